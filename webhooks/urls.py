from __future__ import annotations

from django.urls import path

from webhooks.stripe import StripeWebhookApi

urlpatterns: list = [
    path("stripe", StripeWebhookApi.as_view(), name="webhook-stripe"),
]
