"""POST /api/webhooks/auth0: called by the Auth0 post-user-registration Action (README).

Signed like Stripe signs its webhooks: `X-Signature-Timestamp: <unix seconds>` and
`X-Signature: hex(HMAC-SHA256(AUTH0_WEBHOOK_SECRET, "<timestamp>.<raw body>"))`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import SignupConflict, SignupInvalid, signup_register
from webhooks.models import WebhookEvent
from webhooks.store import webhook_event_run, webhook_event_store

TOLERANCE_SECONDS = 300
EVENT_TYPE = "post-user-registration"


def signature_expected(*, secret: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_valid(*, secret: str, timestamp: str, signature: str, body: bytes) -> bool:
    """Constant-time check of the signature, and the timestamp within 5 minutes of now."""
    if not signature or not re.fullmatch(r"[0-9]{1,12}", timestamp):
        return False
    if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    expected = signature_expected(secret=secret, timestamp=timestamp, body=body)
    # Bytes, not str: compare_digest refuses non-ASCII strings (a forged header is not a 500).
    given = signature.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(expected.encode(), given)


class Auth0SignupInput(serializers.Serializer):
    user_id = serializers.CharField(max_length=255)
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    given_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    family_name = serializers.CharField(
        max_length=150, required=False, allow_blank=True, default=""
    )


class Auth0SignupWebhook(APIView):
    """Signature instead of a session: no authentication classes, no CSRF."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=Auth0SignupInput,
        responses={
            202: OpenApiResponse(
                description="Accepted: user found or created, provisioning queued"
            ),
            400: OpenApiResponse(description="Body is not JSON or lacks user_id/email"),
            401: OpenApiResponse(description="Missing, forged, stale or replayed signature"),
            409: OpenApiResponse(description="The email belongs to another Auth0 identity"),
            503: OpenApiResponse(description="AUTH0_WEBHOOK_SECRET is not configured"),
        },
        auth=[],
        tags=["webhooks"],
    )
    def post(self, request):
        secret = settings.AUTH0_WEBHOOK_SECRET
        if not secret:
            return _answer(status.HTTP_503_SERVICE_UNAVAILABLE, "Auth0 webhook not configured.")
        body = request.body
        timestamp = request.headers.get("X-Signature-Timestamp", "")
        signature = request.headers.get("X-Signature", "")
        if not signature_valid(secret=secret, timestamp=timestamp, signature=signature, body=body):
            return _answer(status.HTTP_401_UNAUTHORIZED, "Missing, invalid or stale signature.")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _answer(status.HTTP_400_BAD_REQUEST, "The body is not JSON.")
        if not isinstance(payload, dict):
            return _answer(status.HTTP_400_BAD_REQUEST, "The body must be a JSON object.")
        form = Auth0SignupInput(data=payload)
        if not form.is_valid():
            return Response({"errors": form.errors}, status=status.HTTP_400_BAD_REQUEST)
        # One delivery = one signed message: the same timestamp and body again is a replay.
        external_id = hashlib.sha256(timestamp.encode() + b"." + body).hexdigest()
        return _accept(external_id=external_id, payload=payload, data=form.validated_data)


def _answer(code: int, detail: str) -> Response:
    return Response({"detail": detail}, status=code)


def _accept(*, external_id: str, payload: dict, data: dict) -> Response:
    """Store, then run at once in the same transaction: the answer (the user, or why not)
    depends on the outcome, and a crash stores nothing, so Auth0 calls again."""
    with transaction.atomic():
        stored = webhook_event_store(
            source=WebhookEvent.Source.AUTH0,
            external_id=external_id,
            event_type=EVENT_TYPE,
            payload=payload,
            status=WebhookEvent.Status.RECEIVED,
        )
        if stored is None:
            return _answer(status.HTTP_401_UNAUTHORIZED, "Replayed delivery.")
        run = webhook_event_run(
            stored,
            lambda: signup_register(
                auth0_subject=data["user_id"],
                email=data["email"],
                given_name=data["given_name"],
                family_name=data["family_name"],
                name=data["name"],
            ),
            recorded=(SignupInvalid, SignupConflict),
            retries=False,
        )
    if run.error is not None:
        code = 409 if isinstance(run.error, SignupConflict) else 400
        return _answer(code, str(run.error))
    return Response({"status": "accepted", "user": run.result.pk}, status=status.HTTP_202_ACCEPTED)
