"""Read endpoints of the billing API: GET /api/billing and GET /api/billing/balance.

Both answer for the caller's own account. Staff may add `?account_id=` to read any account;
anyone else naming an account that is not theirs gets 404 (no hint that it exists)."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.budgets.spend import today_spend
from billing.ledger.accounts import prepaid_active
from billing.ledger.calendar import billing_today
from billing.ledger.money import from_cents
from billing.models import AccountStatus, BillingAccount, BillingMode
from billing.portal import selectors
from billing.portal.api_auto_topup import AutoTopUpOut, auto_topup_values
from billing.portal.statement import month_statement

ERROR = inline_serializer("Error", {"detail": serializers.CharField()})
FIELD_ERRORS = OpenApiResponse(
    description="Bad input: an object keyed by the field in error, each a list of messages.",
    response=inline_serializer(
        "FieldErrors", {"field_name": serializers.ListField(child=serializers.CharField())}
    ),
)


class AccountQuery(serializers.Serializer):
    account_id = serializers.IntegerField(
        required=False, min_value=1, help_text="Staff only: read another account."
    )


class BillingQuery(AccountQuery):
    days = serializers.ChoiceField(
        choices=[30, 90], default=30, help_text="Length of the daily cost series."
    )
    month = serializers.RegexField(
        r"^(20\d\d)-(0[1-9]|1[0-2])$",
        required=False,
        help_text="YYYY-MM: the month of `month_to_date` (default: this month).",
        error_messages={"invalid": "Enter a month as YYYY-MM."},
    )


def account_read_schema(*, operation_id: str, summary: str, query, ok, not_found: str):
    """The OpenAPI description every read of one account shares."""
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        parameters=[query],
        responses={
            200: ok,
            400: FIELD_ERRORS,
            403: OpenApiResponse(ERROR, description="Not logged in."),
            404: OpenApiResponse(ERROR, description=not_found),
        },
        tags=["billing"],
    )


def account_and_query(request: Request, query_class) -> tuple[BillingAccount, dict]:
    """The account a read names (or the caller's) and the validated query: 400 or 404 else."""
    query = query_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return target_account(request, query.validated_data.get("account_id")), query.validated_data


def target_account(request: Request, account_id: int | None) -> BillingAccount:
    accounts = BillingAccount.objects.select_related("user")
    if account_id is None:
        return get_object_or_404(accounts, user=request.user)
    if request.user.is_staff:
        return get_object_or_404(accounts, pk=account_id)
    return get_object_or_404(accounts, pk=account_id, user=request.user)


# --- Response shapes (documentation and output) -------------------------------------------


AMOUNT = {"max_digits": 26, "decimal_places": 6}


class ResourceCostOut(serializers.Serializer):
    resource = serializers.CharField()
    instance_type = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField(source="measured_unit", help_text="Unit of `quantity`.")
    quantity = serializers.DecimalField(**AMOUNT, allow_null=True, help_text="null: not measured.")
    billed_quantity = serializers.DecimalField(
        **AMOUNT, allow_null=True, help_text="The quantity in `price_unit`."
    )
    price_unit = serializers.CharField(help_text='What the price is per, e.g. "GB-month".')
    unit_price = serializers.DecimalField(
        max_digits=18, decimal_places=8, allow_null=True, help_text="null: it changed in the month."
    )
    not_measured_lines = serializers.IntegerField()
    cost_cents = serializers.IntegerField(help_text="Sum of the lines' allocated cents.")
    share = serializers.DecimalField(max_digits=5, decimal_places=1, help_text="Percent.")


class ShareOut(serializers.Serializer):
    name = serializers.CharField(source="label")
    cost_cents = serializers.IntegerField()
    share = serializers.DecimalField(max_digits=5, decimal_places=1, help_text="Percent.")


class ClusterCostOut(serializers.Serializer):
    cluster = serializers.CharField(source="label")
    cost = serializers.SerializerMethodField()
    cost_cents = serializers.IntegerField()
    share = serializers.DecimalField(max_digits=5, decimal_places=1, help_text="Percent.")

    def get_cost(self, obj) -> str:
        return str(from_cents(obj.cost_cents))


class LineOut(serializers.Serializer):
    project = serializers.CharField()
    resource = serializers.CharField()
    instance_type = serializers.CharField()
    quantity = serializers.DecimalField(**AMOUNT, allow_null=True, help_text="null: not measured.")
    unit = serializers.CharField(source="measured_unit")
    billed_quantity = serializers.DecimalField(**AMOUNT, allow_null=True)
    price_unit = serializers.CharField()
    unit_price = serializers.DecimalField(max_digits=18, decimal_places=8, allow_null=True)
    cost = serializers.DecimalField(
        **AMOUNT, allow_null=True, help_text="billed_quantity x unit_price, exact."
    )
    cost_cents = serializers.IntegerField(
        allow_null=True,
        help_text="Allocated so the lines sum to their usage day; null: not measured.",
    )


class UsageDayOut(serializers.Serializer):
    cluster = serializers.CharField()
    status = serializers.CharField()
    charged = serializers.BooleanField()
    cost_cents = serializers.IntegerField()
    lines = LineOut(many=True)


class DayOut(serializers.Serializer):
    date = serializers.DateField()
    charged_cents = serializers.IntegerField()
    not_charged_cents = serializers.IntegerField()
    incomplete = serializers.BooleanField(help_text="Collection partial or failed: not charged.")
    usage_days = UsageDayOut(many=True, source="clusters")


class MonthToDateOut(serializers.Serializer):
    month_start = serializers.DateField(source="first")
    month_end = serializers.DateField(source="last")
    through = serializers.DateField(allow_null=True, help_text="Last charged day so far.")
    cost = serializers.SerializerMethodField()
    cost_cents = serializers.IntegerField(source="total_cents", help_text="Charged days only.")
    not_charged_cents = serializers.IntegerField()
    forecast_cents = serializers.SerializerMethodField()
    by_resource = ResourceCostOut(many=True)
    by_project = ShareOut(many=True)
    by_cluster = ClusterCostOut(many=True)
    days = DayOut(many=True, help_text="Newest first; charged_cents sum to cost_cents.")

    def get_cost(self, obj) -> str:
        return str(from_cents(obj.total_cents))

    def get_forecast_cents(self, obj) -> int:
        return obj.forecast_cents(today=self.context["today"])


class DailyCostOut(serializers.Serializer):
    date = serializers.DateField()
    cost_cents = serializers.IntegerField(
        source="cents", allow_null=True, help_text="Charged; null: no usage recorded."
    )
    incomplete = serializers.BooleanField(help_text="Collection was partial or failed.")


class InvoiceOut(serializers.Serializer):
    id = serializers.CharField()
    number = serializers.CharField()
    status = serializers.CharField()
    created = serializers.DateTimeField(allow_null=True)
    total_cents = serializers.IntegerField(allow_null=True)
    amount_due_cents = serializers.IntegerField(allow_null=True)
    currency = serializers.CharField()
    hosted_invoice_url = serializers.CharField()
    invoice_pdf = serializers.CharField()


class BalanceOut(serializers.Serializer):
    account_id = serializers.IntegerField(source="pk")
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=AccountStatus.choices)
    balance_cents = serializers.IntegerField()
    low_balance = serializers.SerializerMethodField()
    low_balance_threshold_cents = serializers.SerializerMethodField()

    def get_low_balance(self, obj) -> bool:
        return obj.balance_cents < settings.LOW_BALANCE_THRESHOLD_CENTS

    def get_low_balance_threshold_cents(self, obj) -> int:
        return settings.LOW_BALANCE_THRESHOLD_CENTS


class TodayOut(serializers.Serializer):
    cost_cents = serializers.IntegerField(help_text="Today so far (estimate): compute only.")
    stale = serializers.BooleanField(
        help_text="A cluster was unreachable or not sampled recently: may be low."
    )
    computed_at = serializers.DateTimeField(allow_null=True)
    by_cluster = serializers.SerializerMethodField()
    available_cents = serializers.IntegerField(
        allow_null=True, help_text="Prepaid: balance minus today's estimate; null otherwise."
    )
    runway_days = serializers.IntegerField(
        allow_null=True,
        help_text="Prepaid: about this many days at the last 7 days' rate; null when unknown.",
    )

    def get_by_cluster(self, obj) -> dict[str, int]:
        return dict(obj.by_cluster)


class BillingOut(serializers.Serializer):
    account_id = serializers.IntegerField()
    email = serializers.EmailField()
    mode = serializers.ChoiceField(choices=BillingMode.choices)
    status = serializers.ChoiceField(choices=AccountStatus.choices)
    currency = serializers.CharField()
    provisioning = serializers.CharField(
        allow_null=True,
        help_text="Status of the signup provisioning (pending, running, waiting, done, "
        "failed...); null when there is none.",
    )
    balance = BalanceOut(allow_null=True, help_text="Prepaid accounts only; null otherwise.")
    today = TodayOut(help_text="Today so far (estimate), from the sampler; never charged.")
    month_to_date = MonthToDateOut(help_text="The chosen month (default: this one).")
    daily = DailyCostOut(many=True)
    recent_invoices = InvoiceOut(many=True, help_text="Postpaid accounts; empty for prepaid.")
    auto_topup = AutoTopUpOut(allow_null=True, help_text="Prepaid accounts only; null otherwise.")


class BillingView(APIView):
    @account_read_schema(
        operation_id="billing_summary",
        summary="Billing summary of the caller's account",
        query=BillingQuery,
        ok=BillingOut,
        not_found="No such account (or not yours).",
    )
    def get(self, request: Request) -> Response:
        account, params = account_and_query(request, BillingQuery)
        today = billing_today()
        prepaid = prepaid_active(account)
        month = params.get("month")
        month = date(int(month[:4]), int(month[5:]), 1) if month else today
        data = {
            "account_id": account.pk,
            "email": account.user.email,
            "mode": account.mode,
            "status": account.status,
            "currency": account.currency,
            "provisioning": selectors.provisioning_status(user=account.user),
            "balance": account if prepaid else None,
            "today": today_spend(account=account),
            "month_to_date": month_statement(user=account.user, month=month, today=today),
            "daily": selectors.daily_costs(
                user=account.user,
                first=today - timedelta(days=params["days"] - 1),
                last=today,
            ),
            "recent_invoices": [] if prepaid else selectors.recent_invoices(account=account),
            "auto_topup": auto_topup_values(account),
        }
        return Response(BillingOut(data, context={"today": today}).data)


class BalanceView(APIView):
    @account_read_schema(
        operation_id="billing_balance",
        summary="Credit balance of the caller's prepaid account",
        query=AccountQuery,
        ok=BalanceOut,
        not_found="No such account, or it is not prepaid.",
    )
    def get(self, request: Request) -> Response:
        account, params = account_and_query(request, AccountQuery)
        if not prepaid_active(account):
            return Response({"detail": "This account is not prepaid."}, status=404)
        return Response(BalanceOut(account).data)
