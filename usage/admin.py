from __future__ import annotations

from django.contrib import admin

from config.admin import ReadOnlyAdmin
from usage.models import CollectionRun, DeductionSweep, PodRecord, UsageDay, UsageLineItem


class LineItemInline(admin.TabularInline):
    model = UsageLineItem
    extra = 0
    can_delete = False
    readonly_fields = ["project", "resource", "instance_type", "quantity", "unit_price", "cost"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(UsageDay)
class UsageDayAdmin(ReadOnlyAdmin):
    list_display = ["date", "user", "cluster", "status", "cost", "cost_cents"]
    list_filter = ["status", "cluster", ("user", admin.EmptyFieldListFilter)]
    search_fields = ["user__email"]
    list_select_related = ["user", "cluster"]
    date_hierarchy = "date"
    inlines = [LineItemInline]


@admin.register(CollectionRun)
class CollectionRunAdmin(ReadOnlyAdmin):
    list_display = ["day", "cluster", "status", "reason", "started_at", "finished_at"]
    list_filter = ["status", "cluster"]
    date_hierarchy = "day"


@admin.register(PodRecord)
class PodRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "namespace",
        "name",
        "cluster",
        "instance_type",
        "phase",
        "cpu_cores",
        "memory_gib",
        "gpus",
        "requests_missing",
        "anomaly",
        "started_at",
        "finished_at",
        "last_running_at",
    ]
    list_filter = ["cluster", "phase", "requests_missing", "instance_type"]
    search_fields = ["namespace", "name", "uid"]
    list_select_related = ["cluster"]


@admin.register(DeductionSweep)
class DeductionSweepAdmin(ReadOnlyAdmin):
    """The nightly deduction sweeper's passes: days checked and days it had to catch up."""

    list_display = [
        "started_at",
        "first_day",
        "last_day",
        "days_checked",
        "days_caught_up",
        "cents_posted",
        "errors",
    ]
    readonly_fields = [
        "started_at",
        "finished_at",
        "first_day",
        "last_day",
        "days_checked",
        "days_caught_up",
        "cents_posted",
        "caught_up",
        "errors",
    ]
