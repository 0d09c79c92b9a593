"""GET and PUT /api/billing/alerts: the caller's own budget, alert percentages and prepaid
low-balance thresholds, and the history of alerts sent. Dollars in, validated strictly."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.budgets.alerts import (
    MAX_ALERTS,
    MAX_PERCENT,
    alert_settings_of,
    alert_settings_set,
)
from billing.ledger import billing_account_ensure
from billing.ledger.money import from_cents, to_cents
from billing.models import SpendAlert

MAX_DOLLARS = Decimal(1_000_000)


def _dollars(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_DOLLARS,
        **kwargs,
    )


class StrictBoolean(serializers.BooleanField):
    """JSON true or false only: "yes", 1 or "true" is a 400, not a guess."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class AlertsIn(serializers.Serializer):
    monthly_budget = _dollars(allow_null=True, help_text="Dollars a month; null: no budget.")
    alert_percents = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_PERCENT),
        max_length=MAX_ALERTS,
        default=[50, 80, 100],
    )
    low_balance_thresholds = serializers.ListField(
        child=_dollars(),
        max_length=MAX_ALERTS,
        allow_null=True,
        default=None,
        help_text="Prepaid, dollars; null: the default threshold.",
    )
    hard_cap = StrictBoolean(
        default=False,
        help_text="Reaching the budget pauses running deployments and job executions.",
    )

    def validate(self, attrs: dict) -> dict:
        if attrs["hard_cap"] and attrs["monthly_budget"] is None:
            raise serializers.ValidationError({"hard_cap": "A hard cap needs a monthly budget."})
        return attrs


class AlertOut(serializers.Serializer):
    kind = serializers.CharField()
    threshold = serializers.IntegerField(help_text="Percent (budget) or cents (low balance).")
    period = serializers.CharField()
    amount_cents = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    emailed_at = serializers.DateTimeField(allow_null=True)


class AlertsOut(serializers.Serializer):
    monthly_budget = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    alert_percents = serializers.ListField(child=serializers.IntegerField())
    low_balance_thresholds = serializers.ListField(
        child=serializers.DecimalField(max_digits=12, decimal_places=2)
    )
    hard_cap = serializers.BooleanField()
    history = AlertOut(many=True)


def _out(account) -> dict:
    wanted = alert_settings_of(account=account)
    budget = wanted.monthly_budget_cents
    return AlertsOut(
        {
            "monthly_budget": None if budget is None else from_cents(budget),
            "alert_percents": wanted.alert_percents,
            "low_balance_thresholds": [from_cents(t) for t in wanted.low_balance_thresholds_cents],
            "hard_cap": wanted.hard_cap,
            "history": SpendAlert.objects.filter(account=account)[:50],
        }
    ).data


class AlertsView(APIView):
    """Always the caller's own account: naming another account is refused."""

    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="billing_alerts_read", responses={200: AlertsOut}, tags=["billing"])
    def get(self, request: Request) -> Response:
        return Response(_out(billing_account_ensure(user=request.user)))

    @extend_schema(
        operation_id="billing_alerts_set",
        request=AlertsIn,
        responses={
            200: AlertsOut,
            400: OpenApiResponse(description="A field is negative, zero, absurd or not a number"),
            403: OpenApiResponse(description="Not logged in, or another account named"),
        },
        tags=["billing"],
    )
    def put(self, request: Request) -> Response:
        account = billing_account_ensure(user=request.user)
        data = request.data if isinstance(request.data, dict) else {}
        if "account_id" in data and str(data["account_id"]) != str(account.pk):
            return Response({"detail": "You can only set your own alerts."}, status=403)
        serializer = AlertsIn(data=data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        low = values["low_balance_thresholds"]
        alert_settings_set(
            account=account,
            monthly_budget_cents=(
                None if values["monthly_budget"] is None else to_cents(values["monthly_budget"])
            ),
            alert_percents=values["alert_percents"],
            low_balance_thresholds_cents=None if low is None else [to_cents(t) for t in low],
            hard_cap=values["hard_cap"],
        )
        return Response(_out(account))
