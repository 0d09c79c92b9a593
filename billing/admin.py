from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from billing.ledger import BillingError, credits_grant, prepaid_enable, staff_grant_key
from billing.ledger.money import format_cents
from billing.models import (
    AutoTopUpCharge,
    BillingAccount,
    BillingModeChange,
    ChargeReversal,
    CreditTransaction,
    CustomPrice,
    DunningCase,
    MeterReport,
    Price,
    PriceImport,
    SpendPause,
)
from billing.payments.subscriptions import postpaid_switch
from billing.portal.forms import GrantCreditsForm
from config.admin import ReadOnlyAdmin, action_form_page


class CustomPriceInline(admin.TabularInline):
    model = CustomPrice
    extra = 0


class ModeChangeInline(admin.TabularInline):
    model = BillingModeChange
    extra = 0
    can_delete = False
    readonly_fields = ["from_mode", "to_mode", "changed_by", "reason", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(BillingAccount)
class BillingAccountAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "mode",
        "status",
        "prepaid_enabled",
        "balance",
        "payment_method",
        "staff_flag",
        "stripe_customer_id",
        "history_links",
    ]
    list_filter = [
        "mode",
        "status",
        "prepaid_enabled",
        "low_balance_notified",
        ("staff_flag", admin.EmptyFieldListFilter),
        ("payment_method_last4", admin.EmptyFieldListFilter),
        "currency",
    ]
    search_fields = [
        "user__email",
        "user__first_name",
        "user__last_name",
        "user__auth0_subject",
        "stripe_customer_id",
        "stripe_subscription_id",
    ]
    list_select_related = ["user"]
    # Balance, mode and opt-in change only through the ledger and the prepaid services.
    readonly_fields = [
        "user",
        "mode",
        "prepaid_enabled",
        "balance_cents",
        "low_balance_notified",
        "history_links",
        "payment_method_id",
        "payment_method_brand",
        "payment_method_last4",
        "payment_method_event_at",
        "created_at",
        "updated_at",
    ]
    inlines = [CustomPriceInline, ModeChangeInline]
    actions = ["enable_prepaid", "disable_prepaid", "grant_credits"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Credit balance", ordering="balance_cents", empty_value="—")
    def balance(self, obj):
        # Postpaid accounts are invoiced; a credit balance there would only mislead.
        return format_cents(obj.balance_cents, obj.currency) if obj.is_prepaid else None

    @admin.display(description="Payment method", ordering="payment_method_last4")
    def payment_method(self, obj):
        if not obj.payment_method_last4:
            return "none"
        return f"{obj.payment_method_brand} •••• {obj.payment_method_last4}"

    @admin.display(description="History")
    def history_links(self, obj):
        ledger = reverse("admin:billing_credittransaction_changelist")
        usage = reverse("admin:usage_usageday_changelist")
        return format_html(
            '<a href="{}?account__id__exact={}">ledger</a> · '
            '<a href="{}?user__id__exact={}">usage days</a>',
            ledger,
            obj.pk,
            usage,
            obj.user_id,
        )

    @admin.action(description="Enable prepaid", permissions=["change"])
    def enable_prepaid(self, request, queryset):
        self._switch(request, queryset, prepaid_enable, "prepaid enabled")

    @admin.action(description="Disable prepaid", permissions=["change"])
    def disable_prepaid(self, request, queryset):
        self._switch(request, queryset, postpaid_switch, "prepaid disabled")

    def _switch(self, request, queryset, service, done: str) -> None:
        changed = 0
        for account in queryset:
            try:
                service(account=account, changed_by=request.user, reason="Staff panel")
            except BillingError as exc:
                self.message_user(request, f"{account.user}: {exc}", messages.ERROR)
            else:
                changed += 1
        if changed:
            self.message_user(request, f"{changed} account(s): {done}.", messages.SUCCESS)

    @admin.action(description="Grant credits", permissions=["change"])
    def grant_credits(self, request, queryset):
        """An intermediate page asks for the amount and the reason, then grants to each."""
        form = GrantCreditsForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            self._grant(request, queryset, form.cleaned_data)
            return None
        return action_form_page(
            self,
            request,
            action="grant_credits",
            title="Grant promotional credits",
            submit="Grant credits",
            form=form,
            targets=[
                (account.pk, f"{account.user.email} ({account.get_mode_display()})")
                for account in queryset.select_related("user")
            ],
        )

    def _grant(self, request, queryset, data) -> None:
        granted = 0
        for account in queryset:
            try:
                credits_grant(
                    account=account,
                    amount_cents=data["amount_cents"],
                    idempotency_key=staff_grant_key(
                        account_id=account.pk, request_key=data["request_key"]
                    ),
                    reason=data["reason"],
                    created_by=request.user,
                    expires_at=data.get("expires_at"),
                )
            except BillingError as exc:
                self.message_user(request, f"{account.user}: {exc}", messages.ERROR)
            else:
                granted += 1
        if granted:
            amount = format_cents(data["amount_cents"])
            self.message_user(
                request, f"Granted {amount} to {granted} account(s).", messages.SUCCESS
            )


@admin.register(CreditTransaction)
class CreditTransactionAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "account",
        "kind",
        "amount_cents",
        "balance_after_cents",
        "funding",
        "idempotency_key",
    ]
    list_filter = ["kind", "funding", "account__mode"]
    search_fields = ["account__user__email", "idempotency_key", "source_ref", "reason"]
    list_select_related = ["account__user"]
    date_hierarchy = "created_at"


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = ["resource", "instance_type", "unit_price", "unit", "effective_from"]
    list_filter = ["resource"]
    search_fields = ["instance_type"]


@admin.register(PriceImport)
class PriceImportAdmin(ReadOnlyAdmin):
    """The audit of `manage.py prices import`: every applied file, and why a forced one changed
    prices of days already billed."""

    list_display = [
        "created_at",
        "performed_by",
        "source",
        "added",
        "changed",
        "removed",
        "forced",
        "reason",
    ]
    list_filter = ["forced"]
    search_fields = ["performed_by", "source", "reason", "checksum"]
    date_hierarchy = "created_at"


@admin.register(MeterReport)
class MeterReportAdmin(ReadOnlyAdmin):
    """What was reported to Stripe's meter; filter `stale` and `manual` for the rows that need
    staff (a day past Stripe's window, an over-report past the cancel window)."""

    list_display = ["usage_date", "account", "revision", "value", "status", "attempts", "sent_at"]
    list_filter = ["status"]
    search_fields = ["account__user__email", "account__stripe_customer_id", "identifier"]
    list_select_related = ["account__user"]
    date_hierarchy = "usage_date"


@admin.register(DunningCase)
class DunningCaseAdmin(ReadOnlyAdmin):
    list_display = ["account", "stripe_invoice_id", "status", "started_at", "grace_ends_at"]
    list_filter = ["status"]
    search_fields = ["account__user__email", "stripe_invoice_id"]
    list_select_related = ["account__user"]


@admin.register(SpendPause)
class SpendPauseAdmin(ReadOnlyAdmin):
    """Staff see every spend-cap pause (the work itself: Suspension runs, kind pause)."""

    list_display = ["created_at", "account", "reason", "amount_cents", "limit_cents", "lifted_at"]
    list_filter = ["reason", ("lifted_at", admin.EmptyFieldListFilter)]
    search_fields = ["account__user__email"]
    list_select_related = ["account__user"]


@admin.register(ChargeReversal)
class ChargeReversalAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "account",
        "kind",
        "target",
        "stripe_id",
        "amount_cents",
        "status",
    ]
    list_filter = ["kind", "target", "status"]
    search_fields = ["account__user__email", "stripe_id", "stripe_charge_id"]
    list_select_related = ["account__user"]


@admin.register(AutoTopUpCharge)
class AutoTopUpChargeAdmin(ReadOnlyAdmin):
    """Auto top-ups and why one failed (the user was emailed; nothing to do but look)."""

    list_display = ["created_at", "account", "amount_cents", "status", "stripe_payment_intent_id"]
    list_filter = ["status"]
    search_fields = ["account__user__email", "stripe_payment_intent_id"]
    list_select_related = ["account__user"]
