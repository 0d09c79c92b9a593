"""Billing JSON API (DRF). Thin doors: validate, call one service, shape the answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.ledger import (
    BillingError,
    InvalidAmount,
    PrepaidNotAllowed,
    billing_account_ensure,
)
from billing.payments import credits_purchase_start, gateway
from config.cron import broker_unavailable, cron_denial
from jobs.services import BrokerUnavailable, task_send


class PurchaseCreditsApi(APIView):
    """POST /api/billing/purchase-credits {"amount": cents} -> 201 {"url", "purchase_id"}.

    The amount must be a JSON integer (10.0, "10", true and 10.5 are refused, never coerced).
    The account is always the caller's own; an `account_id` naming another one is refused."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=inline_serializer(
            "PurchaseCreditsInput",
            {"amount": serializers.IntegerField(help_text="Whole cents, within the limits")},
        ),
        responses={
            201: inline_serializer(
                "PurchaseCreditsOutput",
                {"url": serializers.URLField(), "purchase_id": serializers.IntegerField()},
            ),
            400: OpenApiResponse(description="`amount` missing, not an integer, or out of limits"),
            403: OpenApiResponse(description="Not a prepaid account, or another account named"),
            502: OpenApiResponse(description="Stripe refused the request"),
            503: OpenApiResponse(description="Stripe not configured or unavailable"),
        },
    )
    def post(self, request):
        data = request.data if isinstance(request.data, dict) else {}
        account = billing_account_ensure(user=request.user)
        if "account_id" in data and str(data["account_id"]) != str(account.pk):
            return _error("You can only buy credits for your own account.", 403)
        if "amount" not in data:
            return Response({"amount": ["This field is required."]}, status=400)
        try:
            purchase = credits_purchase_start(account=account, amount_cents=data["amount"])
        except PrepaidNotAllowed as exc:
            return _error(str(exc), 403)
        except InvalidAmount as exc:
            return Response({"amount": [str(exc)]}, status=400)
        except gateway.StripeNotConfigured as exc:
            return _error(str(exc), 503)
        except gateway.StripeUnavailable as exc:
            return _error(f"{exc}. Nothing was charged; please try again shortly.", 503)
        except gateway.StripeRequestRefused as exc:
            return _error(str(exc), 502)
        except BillingError as exc:
            return _error(str(exc), 400)
        return Response(
            {"url": purchase.checkout_url, "purchase_id": purchase.pk},
            status=status.HTTP_201_CREATED,
        )


def _error(detail: str, code: int) -> Response:
    return Response({"detail": detail}, status=code)


class SyncStripeApi(APIView):
    """POST /api/billing/sync-stripe (cron door): queue the metered usage sync."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer("SyncStripeQueued", {"task_id": serializers.CharField()}),
            401: OpenApiResponse(description="Missing or wrong Bearer CRON_SECRET"),
            503: OpenApiResponse(
                description="CRON_SECRET is not configured, or the task queue is unreachable"
            ),
        },
        auth=[],
    )
    def post(self, request):
        if denied := cron_denial(request):
            return denied
        try:
            task_id = task_send("billing.tasks.sync_stripe_usage")
        except BrokerUnavailable as exc:
            return broker_unavailable(exc)
        return Response({"task_id": task_id}, status=status.HTTP_202_ACCEPTED)
