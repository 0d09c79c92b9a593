"""Development-only helpers (demo data). Nothing in the production code path imports this."""
