"""Billing API routes of the pages issue (reads and staff actions), included from config/api_urls.py."""

from __future__ import annotations

from django.urls import path

from billing.api_admin import AdminBillingView
from billing.api_read import BalanceView, BillingView

urlpatterns = [
    path("billing", BillingView.as_view(), name="api-billing"),
    path("billing/balance", BalanceView.as_view(), name="api-billing-balance"),
    path("admin/billing", AdminBillingView.as_view(), name="api-admin-billing"),
]
