"""Billing JSON API (DRF). Thin doors: validate, call one service, shape the answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.ledger import billing_account_ensure
from billing.payments import credits_purchase_start
from config.cron import cron_denial
from jobs.services import task_send


class RawJsonField(serializers.Field):
    """A JSON value passed on as sent: the service checks it strictly (10.0, "10" and true are
    not cents), where IntegerField would coerce them."""

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, **kwargs)

    def to_internal_value(self, data):
        return data

    def to_representation(self, value):
        return value


class PurchaseCreditsApi(APIView):
    """POST /api/billing/purchase-credits {"amount": cents} -> 201 {"url", "purchase_id"}.

    The amount must be a JSON integer (10.0, "10", true and 10.5 are refused, never coerced).
    The account is always the caller's own; an `account_id` naming another one is refused.
    Refusals are the errors' own answers (config.api_errors): not prepaid 403, a bad amount
    400 under `amount`, Stripe not configured or down 503, Stripe refusing 502."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        # Checked first: naming someone else's account is refused before anything else.
        account_id = RawJsonField(required=False)
        amount = RawJsonField(source="amount_cents", help_text="Whole cents, within the limits")

        def validate_account_id(self, value):
            if str(value) != str(self.context["account"].pk):
                raise PermissionDenied("You can only buy credits for your own account.")
            return value

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
        account = billing_account_ensure(user=request.user)
        data = request.data if isinstance(request.data, dict) else {}
        serializer = self.InputSerializer(data=data, context={"account": account})
        serializer.is_valid(raise_exception=True)
        purchase = credits_purchase_start(
            account=account, amount_cents=serializer.validated_data["amount_cents"]
        )
        return Response(
            {"url": purchase.checkout_url, "purchase_id": purchase.pk},
            status=status.HTTP_201_CREATED,
        )


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
        task_id = task_send("billing.tasks.sync_stripe_usage")
        return Response({"task_id": task_id}, status=status.HTTP_202_ACCEPTED)
