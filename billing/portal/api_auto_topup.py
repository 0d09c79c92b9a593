"""GET and PUT /api/billing/auto-topup: the caller's own auto top-up (prepaid accounts), and
its recent attempts. Dollars in, validated strictly; the amount within the credit purchase
limits (billing.payments.purchases.validate_purchase_amount, checked by the service)."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.budgets.auto_topup import auto_topup_of
from billing.ledger import billing_account_ensure, prepaid_active
from billing.ledger.money import from_cents, to_cents
from billing.models import AutoTopUpCharge, BillingAccount
from billing.payments.auto_topup import auto_topup_settings_set

MAX_DOLLARS = Decimal(1_000_000)


def _dollars(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), max_value=MAX_DOLLARS, **kwargs
    )


class AutoTopUpIn(serializers.Serializer):
    account_id = serializers.IntegerField(
        required=False, help_text="Optional: your own account id (another one is refused)."
    )
    enabled = serializers.BooleanField()
    threshold = _dollars(source="threshold_cents", help_text="Dollars: top up below this.")
    amount = _dollars(source="amount_cents", help_text="Dollars, within the purchase limits.")

    def validate_account_id(self, value):
        if str(value) != str(self.context["account"].pk):
            raise PermissionDenied("You can only set your own auto top-up.")
        return value

    def validate(self, data):
        data.pop("account_id", None)
        return data | {k: to_cents(data[k]) for k in ("threshold_cents", "amount_cents")}


class AutoTopUpChargeOut(serializers.Serializer):
    amount_cents = serializers.IntegerField()
    balance_cents = serializers.IntegerField(help_text="The balance that crossed the threshold.")
    status = serializers.CharField(
        help_text=", ".join(f"{value}: {label}" for value, label in AutoTopUpCharge.Status.choices)
    )
    failure_reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class AutoTopUpOut(serializers.Serializer):
    enabled = serializers.BooleanField()
    threshold = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    consecutive_failures = serializers.IntegerField()
    disabled_reason = serializers.CharField(help_text="Why it turned itself off; blank if not.")
    card = serializers.CharField(help_text="The saved card (brand and last 4); blank: none.")
    recent = AutoTopUpChargeOut(many=True)


def auto_topup_values(account: BillingAccount) -> dict | None:
    """The auto top-up of a prepaid account, for AutoTopUpOut; None for postpaid."""
    if not prepaid_active(account):
        return None
    row = auto_topup_of(account=account)
    card = f"{account.payment_method_brand} {account.payment_method_last4}".strip()
    return {
        "enabled": bool(row and row.enabled),
        "threshold": row and from_cents(row.threshold_cents),
        "amount": row and from_cents(row.amount_cents),
        "consecutive_failures": row.consecutive_failures if row else 0,
        "disabled_reason": row.disabled_reason if row else "",
        "card": card if account.payment_method_id else "",
        "recent": account.auto_topup_charges.all()[:10],
    }


class AutoTopUpView(APIView):
    """Always the caller's own account: naming another account is refused."""

    permission_classes = [IsAuthenticated]

    InputSerializer = AutoTopUpIn

    @extend_schema(
        operation_id="billing_auto_topup_read",
        responses={200: AutoTopUpOut, 404: OpenApiResponse(description="Not a prepaid account")},
        tags=["billing"],
    )
    def get(self, request: Request) -> Response:
        values = auto_topup_values(billing_account_ensure(user=request.user))
        if values is None:
            return Response({"detail": "Auto top-up is for prepaid accounts."}, status=404)
        return Response(AutoTopUpOut(values).data)

    @extend_schema(
        operation_id="billing_auto_topup_set",
        request=InputSerializer,
        responses={
            200: AutoTopUpOut,
            400: OpenApiResponse(
                description="A field missing, negative, zero, absurd, not a number, or the "
                "amount outside the credit purchase limits"
            ),
            403: OpenApiResponse(description="Not logged in, not prepaid, or another account"),
        },
        tags=["billing"],
    )
    def put(self, request: Request) -> Response:
        account = billing_account_ensure(user=request.user)
        data = request.data if isinstance(request.data, dict) else {}
        serializer = self.InputSerializer(data=data, context={"account": account})
        serializer.is_valid(raise_exception=True)
        auto_topup_settings_set(account=account, **serializer.validated_data)
        return Response(AutoTopUpOut(auto_topup_values(account)).data)
