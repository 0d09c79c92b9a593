from __future__ import annotations

from django.contrib import admin

from config.admin import ReadOnlyAdmin
from webhooks.models import WebhookEvent


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "source", "event_type", "external_id", "status", "attempts"]
    list_filter = ["source", "status", "event_type"]
    search_fields = ["external_id", "event_type", "error"]
    date_hierarchy = "received_at"
