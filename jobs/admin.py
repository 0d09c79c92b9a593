from __future__ import annotations

from django.contrib import admin

from jobs.models import PendingTask


@admin.register(PendingTask)
class PendingTaskAdmin(admin.ModelAdmin):
    list_display = ["task_name", "args", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "task_name"]
    search_fields = ["task_name", "key", "task_id"]
    readonly_fields = [f.name for f in PendingTask._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
