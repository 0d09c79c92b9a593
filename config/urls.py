from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config import errors, health

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
    path("readyz", health.readyz, name="readyz"),
    path("api/", include("config.api_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("billing.portal.urls")),
]
if settings.AUTH0_LOGIN_ENABLED:
    urlpatterns.insert(0, path("oidc/", include("mozilla_django_oidc.urls")))

handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error
