"""Billing API routes of the pages issue (reads, staff actions); included by config/api_urls."""

from __future__ import annotations

from django.urls import path

from billing.portal.api_admin import (
    AdminBillingView,
    CreditsGrantApi,
    PrepaidDisableApi,
    PrepaidEnableApi,
)
from billing.portal.api_alerts import AlertsView
from billing.portal.api_auto_topup import AutoTopUpView
from billing.portal.api_read import BalanceView, BillingView

urlpatterns = [
    path("billing", BillingView.as_view(), name="api-billing"),
    path("billing/alerts", AlertsView.as_view(), name="api-billing-alerts"),
    path("billing/auto-topup", AutoTopUpView.as_view(), name="api-billing-auto-topup"),
    path("billing/balance", BalanceView.as_view(), name="api-billing-balance"),
    path("admin/billing", AdminBillingView.as_view(), name="api-admin-billing"),
    path(
        "admin/billing/prepaid-enable", PrepaidEnableApi.as_view(), name="api-admin-prepaid-enable"
    ),
    path(
        "admin/billing/prepaid-disable",
        PrepaidDisableApi.as_view(),
        name="api-admin-prepaid-disable",
    ),
    path("admin/billing/credits-grant", CreditsGrantApi.as_view(), name="api-admin-credits-grant"),
]
