from __future__ import annotations

from django.urls import path

from webhooks.auth0 import Auth0SignupWebhook
from webhooks.stripe import StripeWebhookApi

urlpatterns: list = [
    path("auth0", Auth0SignupWebhook.as_view(), name="webhook-auth0"),
    path("stripe", StripeWebhookApi.as_view(), name="webhook-stripe"),
]
