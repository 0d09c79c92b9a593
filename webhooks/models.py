from __future__ import annotations

from django.db import models


class WebhookEvent(models.Model):
    """One delivery we accepted, stored once per (source, external id) whatever the retries."""

    class Source(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        AUTH0 = "auth0", "Auth0"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (type not handled)"
        FAILED = "failed", "Failed"

    source = models.CharField(max_length=16, choices=Source.choices)
    external_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=128)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # When the sweeper next sends an unfinished (received or failed) Stripe event to a worker;
    # None once it is done, or failed past its last automatic attempt.
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="webhook_event_unique_external_id"
            )
        ]
        indexes = [
            models.Index(fields=["status", "source"]),
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(next_attempt_at__isnull=False),
                name="webhook_event_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.event_type}:{self.external_id}"
