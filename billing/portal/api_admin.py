"""Staff API: GET/POST /api/admin/billing. Lists accounts with mode and balance; turns prepaid
on or off; grants credits with a reason. Each action is a door into billing.ledger."""

from __future__ import annotations

from django.db.models import Q
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response

from billing.ledger import credits_grant, prepaid_enable, staff_grant_key
from billing.models import AccountStatus, BillingAccount, BillingMode
from billing.payments.subscriptions import postpaid_switch
from billing.portal.api_read import ERROR, FIELD_ERRORS


class AdminAccountOut(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")

    class Meta:
        model = BillingAccount
        fields = [
            "id",
            "email",
            "mode",
            "status",
            "prepaid_enabled",
            "currency",
            "balance_cents",
            "stripe_customer_id",
        ]


class AdminListQuery(serializers.Serializer):
    search = serializers.CharField(
        required=False, max_length=254, help_text="Part of the email or Stripe customer id."
    )
    mode = serializers.ChoiceField(choices=BillingMode.choices, required=False)
    status = serializers.ChoiceField(choices=AccountStatus.choices, required=False)


class AccountActionInput(serializers.Serializer):
    account_id = serializers.PrimaryKeyRelatedField(
        queryset=BillingAccount.objects.select_related("user")
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text="Why (kept in the audit)."
    )


class CreditsGrantInput(AccountActionInput):
    reason = serializers.CharField(max_length=2000, help_text="Why (kept in the audit).")
    amount_cents = serializers.IntegerField(min_value=1, help_text="Cents to grant.")
    idempotency_key = serializers.CharField(
        max_length=200,
        help_text="A key of your choosing; a retry with the same key grants once.",
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class AdminAction(serializers.Serializer):
    """The old single door, POST /api/admin/billing {"action", ...}: every field optional
    except the action and the account, grant fields required for a grant."""

    ACTIONS = ["prepaid_enable", "prepaid_disable", "credits_grant"]

    account_id = serializers.PrimaryKeyRelatedField(
        queryset=BillingAccount.objects.select_related("user")
    )
    action = serializers.ChoiceField(choices=ACTIONS)
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text="Required for a grant."
    )
    amount_cents = serializers.IntegerField(
        required=False, min_value=1, help_text="credits_grant: cents to grant."
    )
    idempotency_key = serializers.CharField(
        required=False,
        max_length=200,
        help_text="credits_grant: a key of your choosing; a retry with the same key grants once.",
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate(self, attrs):
        if attrs["action"] == "credits_grant":
            errors = {}
            if attrs.get("amount_cents") is None:
                errors["amount_cents"] = ["Required for a grant."]
            if not (attrs.get("reason") or "").strip():
                errors["reason"] = ["Required for a grant."]
            if not attrs.get("idempotency_key"):
                errors["idempotency_key"] = ["Required for a grant."]
            if errors:
                raise serializers.ValidationError(errors)
        return attrs


class AdminActionOut(serializers.Serializer):
    account = AdminAccountOut()
    transaction_id = serializers.IntegerField(allow_null=True)


class AccountsPage(PageNumberPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"


class AdminBillingView(GenericAPIView):
    permission_classes = [IsAdminUser]
    serializer_class = AdminAccountOut
    pagination_class = AccountsPage

    def get_queryset(self):
        return BillingAccount.objects.select_related("user").order_by("user__email")

    @extend_schema(
        operation_id="admin_billing_list",
        summary="Staff: list billing accounts with mode and balance",
        parameters=[AdminListQuery],
        responses={200: AdminAccountOut(many=True), 400: FIELD_ERRORS, 403: ERROR},
        tags=["admin"],
    )
    def get(self, request: Request) -> Response:
        query = AdminListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = self.get_queryset()
        if term := query.validated_data.get("search"):
            rows = rows.filter(Q(user__email__icontains=term) | Q(stripe_customer_id=term))
        if mode := query.validated_data.get("mode"):
            rows = rows.filter(mode=mode)
        if state := query.validated_data.get("status"):
            rows = rows.filter(status=state)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(AdminAccountOut(page, many=True).data)

    InputSerializer = AdminAction

    @extend_schema(
        operation_id="admin_billing_action",
        summary="Staff: enable or disable prepaid, or grant credits with a reason",
        request=AdminAction,
        responses={
            200: AdminActionOut,
            201: AdminActionOut,
            400: FIELD_ERRORS,
            403: ERROR,
            409: OpenApiResponse(
                ERROR, description="Refused by a billing rule (prepaid switched off, key reused)."
            ),
        },
        tags=["admin"],
    )
    def post(self, request: Request) -> Response:
        """Kept for callers of the single door; each action is also its own view below."""
        action = AdminAction(data=request.data)
        action.is_valid(raise_exception=True)
        data = dict(action.validated_data)
        return ACTIONS[data.pop("action")](request=request, data=data)


def _prepaid_enable(*, request: Request, data: dict) -> Response:
    account = prepaid_enable(
        account=data["account_id"], changed_by=request.user, reason=_reason(data)
    )
    return _answer(account, None)


def _prepaid_disable(*, request: Request, data: dict) -> Response:
    account = postpaid_switch(
        account=data["account_id"], changed_by=request.user, reason=_reason(data)
    )
    return _answer(account, None)


def _credits_grant(*, request: Request, data: dict) -> Response:
    account = data["account_id"]
    tx = credits_grant(
        account=account,
        amount_cents=data["amount_cents"],
        idempotency_key=staff_grant_key(account_id=account.pk, request_key=data["idempotency_key"]),
        reason=_reason(data),
        created_by=request.user,
        expires_at=data.get("expires_at"),
    )
    account.refresh_from_db()
    return _answer(account, tx)


ACTIONS = {
    "prepaid_enable": _prepaid_enable,
    "prepaid_disable": _prepaid_disable,
    "credits_grant": _credits_grant,
}


def _reason(data: dict) -> str:
    return (data.get("reason") or "").strip()


def _answer(account: BillingAccount, tx) -> Response:
    out = AdminActionOut({"account": account, "transaction_id": tx.pk if tx else None})
    return Response(out.data, status=status.HTTP_201_CREATED if tx else status.HTTP_200_OK)


class _AccountActionApi(GenericAPIView):
    """POST one staff action; refusals are the errors' own answers (config.api_errors):
    400 naming the field, 409 for a billing rule (prepaid switched off, key reused)."""

    permission_classes = [IsAdminUser]
    InputSerializer = AccountActionInput
    action_name = ""

    def get_serializer_class(self):
        return self.InputSerializer

    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return ACTIONS[self.action_name](request=request, data=dict(serializer.validated_data))


_ACTION_RESPONSES = {
    200: AdminActionOut,
    201: AdminActionOut,
    400: FIELD_ERRORS,
    403: ERROR,
    409: OpenApiResponse(ERROR, description="Refused by a billing rule."),
}


@extend_schema(
    summary="Staff: switch an account to prepaid", tags=["admin"], responses=_ACTION_RESPONSES
)
class PrepaidEnableApi(_AccountActionApi):
    action_name = "prepaid_enable"


@extend_schema(
    summary="Staff: switch an account back to postpaid", tags=["admin"], responses=_ACTION_RESPONSES
)
class PrepaidDisableApi(_AccountActionApi):
    action_name = "prepaid_disable"


@extend_schema(
    summary="Staff: grant credits with a reason", tags=["admin"], responses=_ACTION_RESPONSES
)
class CreditsGrantApi(_AccountActionApi):
    InputSerializer = CreditsGrantInput
    action_name = "credits_grant"
