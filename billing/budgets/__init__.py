"""Live spend, budgets and alerts.

- spend.py: today's estimate (from usage.SpendEstimate), month spend, available and runway
- alerts.py: budget and low-balance settings, and alerts sent once per crossing
"""
