from __future__ import annotations

from django.urls import path

from webhooks.auth0 import Auth0SignupWebhook

urlpatterns: list = [
    path("auth0", Auth0SignupWebhook.as_view(), name="webhook-auth0"),
]
