from __future__ import annotations

from django.db import models


class PendingTask(models.Model):
    """A Celery task that must run, recorded in the transaction that makes it necessary.

    The row commits with the change it follows up (or not at all); the message is sent after
    commit. A broker outage leaves the row pending and the sweeper sends it later.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (not yet handed to the broker)"
        SENT = "sent", "Sent"

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    # One pending row per key: recording the same intent twice sends it once.
    key = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=models.Q(status="pending") & ~models.Q(key=""),
                name="pending_task_unique_pending_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.task_name}{tuple(self.args)} ({self.status})"
