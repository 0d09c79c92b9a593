"""/api/billing/... (included from config/api_urls.py)."""

from __future__ import annotations

from django.urls import path

from billing.portal import api

urlpatterns = [
    path("purchase-credits", api.PurchaseCreditsApi.as_view(), name="api-purchase-credits"),
    path("sync-stripe", api.SyncStripeApi.as_view(), name="api-sync-stripe"),
]
