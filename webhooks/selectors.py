"""Reads about the webhook queue, for staff (the admin) and for /readyz."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, Q
from django.utils import timezone

from webhooks.models import WebhookEvent


@dataclass(frozen=True)
class WebhookQueue:
    depth: int  # stored, not processed yet (status received)
    oldest_received_at: datetime | None
    failed: int  # failed, whether or not an automatic attempt is still due

    def oldest_age_seconds(self, now: datetime | None = None) -> int:
        if self.oldest_received_at is None:
            return 0
        return int(((now or timezone.now()) - self.oldest_received_at).total_seconds())


def webhook_queue() -> WebhookQueue:
    """One query: the unprocessed events (how many, since when) and the failed ones."""
    received = Q(status=WebhookEvent.Status.RECEIVED)
    row = WebhookEvent.objects.filter(
        status__in=[WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED]
    ).aggregate(
        depth=Count("pk", filter=received),
        oldest=Min("received_at", filter=received),
        failed=Count("pk", filter=Q(status=WebhookEvent.Status.FAILED)),
    )
    return WebhookQueue(depth=row["depth"], oldest_received_at=row["oldest"], failed=row["failed"])
