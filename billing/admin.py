from __future__ import annotations

from django.contrib import admin

from billing.models import (
    BillingAccount,
    BillingModeChange,
    CreditTransaction,
    CustomPrice,
    MeterReport,
    Price,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """History rows: visible to staff, never edited or deleted from the panel."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
        "balance_cents",
        "stripe_customer_id",
    ]
    list_filter = ["mode", "status", "prepaid_enabled"]
    search_fields = ["user__email", "stripe_customer_id", "stripe_subscription_id"]
    list_select_related = ["user"]
    # Balance, mode and opt-in change only through the ledger and the prepaid services.
    readonly_fields = [
        "user",
        "mode",
        "prepaid_enabled",
        "balance_cents",
        "low_balance_notified",
        "created_at",
        "updated_at",
    ]
    inlines = [CustomPriceInline, ModeChangeInline]

    def has_add_permission(self, request):
        return False


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
    list_filter = ["kind", "funding"]
    search_fields = ["account__user__email", "idempotency_key", "source_ref"]
    list_select_related = ["account__user"]
    date_hierarchy = "created_at"


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = ["resource", "instance_type", "unit_price", "unit", "effective_from"]
    list_filter = ["resource"]
    search_fields = ["instance_type"]


@admin.register(MeterReport)
class MeterReportAdmin(ReadOnlyAdmin):
    """What was reported to Stripe's meter; filter `stale` and `manual` for the rows that need
    staff (a day past Stripe's window, an over-report past the cancel window)."""

    list_display = ["usage_date", "account", "revision", "value", "status", "attempts", "sent_at"]
    list_filter = ["status"]
    search_fields = ["account__user__email", "account__stripe_customer_id", "identifier"]
    list_select_related = ["account__user"]
    date_hierarchy = "usage_date"
