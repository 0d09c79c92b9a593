from __future__ import annotations

from django.urls import path

from billing.portal import views, views_auto_topup

urlpatterns = [
    path("", views.home, name="home"),
    path("billing/", views.billing_page, name="billing"),
    path("billing/payment-method/", views.payment_method_manage, name="payment-method"),
    path("billing/alerts/", views.alerts_save, name="billing-alerts"),
    path("billing/auto-topup/", views_auto_topup.auto_topup_save, name="billing-auto-topup"),
    path(
        "billing/auto-topup/card/",
        views_auto_topup.auto_topup_card_save,
        name="billing-auto-topup-card",
    ),
    path("billing/export.csv", views.export_csv, name="billing-export"),
    path("billing/credits/", views.credits_buy, name="credits-buy"),
    path("billing/credits/success/", views.credits_success, name="credits-success"),
    path("billing/credits/cancel/", views.credits_cancel, name="credits-cancel"),
    path("healthz", views.trivial, name="trivial"),
]
