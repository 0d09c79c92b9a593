"""Auth0 login backend: users matched by Auth0 subject, unknown users created, accounts made
before Auth0 linked once by verified email. Auth0's userinfo endpoint is faked over HTTP."""

from __future__ import annotations

import pytest
import responses
from django.core.exceptions import SuspiciousOperation
from django.test import override_settings

from accounts.auth import Auth0Backend
from accounts.models import User
from billing.models import BillingAccount

DOMAIN = "https://tenant.auth0.test"
oidc = override_settings(
    OIDC_RP_CLIENT_ID="cid",
    OIDC_RP_CLIENT_SECRET="secret",
    OIDC_RP_SIGN_ALGO="RS256",
    OIDC_OP_TOKEN_ENDPOINT=f"{DOMAIN}/oauth/token",
    OIDC_OP_USER_ENDPOINT=f"{DOMAIN}/userinfo",
    OIDC_OP_JWKS_ENDPOINT=f"{DOMAIN}/.well-known/jwks.json",
    OIDC_RP_SCOPES="openid email profile",
)


def login_with(claims: dict):
    responses.get(f"{DOMAIN}/userinfo", json=claims)
    return Auth0Backend().get_or_create_user("access-token", "id-token", {})


@oidc
@responses.activate
def test_known_subject_logs_in_as_that_user(db):
    user = User.objects.create_user("a@example.com", None, auth0_subject="auth0|1")
    assert login_with({"sub": "auth0|1", "email": "changed@example.com"}) == user


@oidc
@responses.activate
def test_unknown_subject_creates_the_user_and_billing_account(db):
    user = login_with(
        {"sub": "auth0|new", "email": "New@Example.com", "given_name": "Ada", "family_name": "L"}
    )
    assert user.auth0_subject == "auth0|new"
    assert user.email == "new@example.com"
    assert BillingAccount.objects.filter(user=user).exists()
    assert not user.has_usable_password()


@oidc
@responses.activate
def test_existing_account_is_linked_by_verified_email_once(db):
    user = User.objects.create_user("staff-made@example.com", "pw-123456789")
    got = login_with({"sub": "auth0|x", "email": "staff-made@example.com", "email_verified": True})
    assert got == user
    user.refresh_from_db()
    assert user.auth0_subject == "auth0|x"


@oidc
@responses.activate
def test_unverified_email_does_not_take_over_an_existing_account(db):
    User.objects.create_user("victim@example.com", "pw-123456789")
    with pytest.raises(SuspiciousOperation):
        login_with({"sub": "auth0|evil", "email": "victim@example.com", "email_verified": False})
    assert User.objects.get(email="victim@example.com").auth0_subject is None


@oidc
@responses.activate
def test_claims_without_subject_are_refused(db):
    with pytest.raises(SuspiciousOperation):
        login_with({"email": "x@example.com"})
    assert not User.objects.filter(email="x@example.com").exists()


def test_without_auth0_settings_django_login_is_used(client, db):
    from django.conf import settings

    assert settings.AUTH0_LOGIN_ENABLED is False
    assert "accounts.auth.Auth0Backend" not in settings.AUTHENTICATION_BACKENDS
    response = client.get("/billing/")
    assert response["Location"].startswith("/accounts/login/")
