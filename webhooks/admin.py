from __future__ import annotations

from django.contrib import admin

from config.admin import ReadOnlyAdmin
from webhooks.models import WebhookEvent
from webhooks.selectors import webhook_queue


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = [
        "received_at",
        "source",
        "event_type",
        "external_id",
        "status",
        "attempts",
        "next_attempt_at",
    ]
    list_filter = ["source", "status", "event_type"]
    search_fields = ["external_id", "event_type", "error"]
    date_hierarchy = "received_at"

    def changelist_view(self, request, extra_context=None):
        """The header shows the queue: its depth and the age of its oldest event."""
        queue = webhook_queue()
        extra = {"webhook_queue": queue, "webhook_queue_oldest_age": queue.oldest_age_seconds()}
        return super().changelist_view(request, extra_context={**(extra_context or {}), **extra})
