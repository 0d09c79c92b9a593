from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts.forms import AdminLoginForm, LoginForm
from config import errors, health
from config.djstripe_admin import djstripe_action_urls

admin.site.login_form = AdminLoginForm

urlpatterns = [
    *djstripe_action_urls(settings.ADMIN_URL),
    path(settings.ADMIN_URL, admin.site.urls),
    path("readyz", health.readyz, name="readyz"),
    path("api/", include("config.api_urls")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=LoginForm),
        name="login",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("billing.portal.urls")),
]
if settings.AUTH0_LOGIN_ENABLED:
    urlpatterns.insert(0, path("oidc/", include("mozilla_django_oidc.urls")))

handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error
