"""Everything under /api/. Each app adds its own include here."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.errors import api_index

urlpatterns = [
    path("", api_index, name="api-index"),
    path("webhooks/", include("webhooks.urls")),
    path("usage/", include("usage.urls")),
    path("billing/", include("billing.portal.api_urls")),
    path("", include("billing.portal.api_read_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
