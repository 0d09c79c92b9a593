"""Everything under /api/. Each app adds its own include here."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("webhooks/", include("webhooks.urls")),
    path("usage/", include("usage.urls")),
    path("billing/", include("billing.api_urls")),
]
