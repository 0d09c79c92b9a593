"""POST /api/webhooks/stripe: Stripe signs, we verify; no session, no CSRF (the signature is
the authentication). The raw body is read before anything parses it."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from webhooks.services import stripe_event_receive


class StripeWebhookApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request={"application/json": {"type": "object", "description": "A Stripe event"}},
        responses={
            200: OpenApiResponse(
                description="Stored (received: processing queued; ignored: type not handled;"
                " duplicate: stored before)"
            ),
            400: OpenApiResponse(
                description="Missing, forged or stale signature; not JSON; not ours"
            ),
            503: OpenApiResponse(description="STRIPE_WEBHOOK_SECRET is not configured"),
        },
        auth=[],
        tags=["webhooks"],
    )
    def post(self, request):
        outcome = stripe_event_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
        body = {"detail": outcome.detail}
        if outcome.event_id is not None:
            body["event"] = outcome.event_id
        return Response(body, status=outcome.status_code)
