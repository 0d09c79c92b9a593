"""The cron doors' shared check: `Authorization: Bearer <CRON_SECRET>`, in constant time."""

from __future__ import annotations

import hmac

from django.conf import settings
from rest_framework import status
from rest_framework.response import Response


def cron_denial(request) -> Response | None:
    """The answer that refuses this request (503 while CRON_SECRET is unset, 401 for a missing
    or wrong token), or None when the caller holds the secret."""
    secret = settings.CRON_SECRET
    if not secret:
        return Response(
            {"detail": "CRON_SECRET is not configured."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), secret.encode()):
        return None
    return Response(
        {"detail": "A valid Bearer token is required."},
        status=status.HTTP_401_UNAUTHORIZED,
        headers={"WWW-Authenticate": "Bearer"},
    )
