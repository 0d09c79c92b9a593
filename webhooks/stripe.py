"""POST /api/webhooks/stripe: Stripe signs, we verify; no session, no CSRF (the signature is
the authentication). The raw body is read before anything parses it."""

from __future__ import annotations

from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from webhooks.services import stripe_event_receive


class StripeWebhookApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request):
        outcome = stripe_event_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
        body = {"detail": outcome.detail}
        if outcome.event is not None:
            body["event"] = outcome.event.external_id
        return Response(body, status=outcome.status_code)
