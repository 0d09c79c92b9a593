"""Auth0 login through OpenID Connect (mozilla-django-oidc, authorization code flow).

Users are matched by their Auth0 subject (`sub`). A user who logs in before Auth0's signup
webhook arrived is created here the same way the webhook would create them. An existing
account without a subject (made by staff or the demo) is linked once by its verified email.
Active only when AUTH0_DOMAIN, AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET are set."""

from __future__ import annotations

import logging

from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from accounts.services import SignupError, signup_register

logger = logging.getLogger(__name__)


class Auth0Backend(OIDCAuthenticationBackend):
    def verify_claims(self, claims) -> bool:
        return bool(claims.get("sub")) and bool(claims.get("email"))

    def describe_user_by_claims(self, claims) -> str:
        return f"Auth0 subject {claims.get('sub')}"

    def filter_users_by_claims(self, claims):
        users = self.UserModel.objects.filter(auth0_subject=claims["sub"])
        if users.exists():
            return users
        if claims.get("email_verified") is True:
            return self.UserModel.objects.filter(
                email__iexact=claims["email"], auth0_subject__isnull=True
            )
        return self.UserModel.objects.none()

    def create_user(self, claims):
        if self.UserModel.objects.filter(email__iexact=claims["email"]).exists():
            # Another login owns this email; linking needs a verified email (see above).
            raise SuspiciousOperation("An account with this email exists; verify the email first.")
        return user_from_auth0(claims)

    def update_user(self, user, claims):
        if user.auth0_subject is None:
            user.auth0_subject = claims["sub"]
            user.save(update_fields=["auth0_subject"])
            logger.info("linked user %s to its Auth0 subject on first login", user.pk)
        return user


def user_from_auth0(claims):
    """Create (and start provisioning) a user Auth0 vouches for but we have not seen yet."""
    fields = {
        "auth0_subject": claims["sub"],
        "email": claims["email"],
        "given_name": claims.get("given_name", ""),
        "family_name": claims.get("family_name", ""),
        "name": claims.get("name", ""),
    }
    try:
        return signup_register(**fields)
    except SignupError as exc:  # bad or conflicting identity: refuse the login, say why
        raise SuspiciousOperation(str(exc)) from exc
