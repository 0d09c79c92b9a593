"""Measured usage: one UsageDay per (user, cluster, date), priced line items per project and
resource, and a CollectionRun per attempt at a cluster-day."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from billing.models import Resource

QUANTITY_FIELD = {"max_digits": 20, "decimal_places": 6}
COST_FIELD = {"max_digits": 20, "decimal_places": 6}


class CollectionStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETE = "complete", "Complete"
    PARTIAL = "partial", "Partial"
    FAILED = "failed", "Failed"
    # Another run of the same cluster-day held the lock; this one wrote nothing.
    SKIPPED = "skipped", "Skipped"


class CollectionRun(models.Model):
    cluster = models.ForeignKey("clusters.Cluster", on_delete=models.PROTECT, related_name="runs")
    day = models.DateField()
    status = models.CharField(
        max_length=16, choices=CollectionStatus.choices, default=CollectionStatus.RUNNING
    )
    reason = models.TextField(blank=True, help_text="Why the run is partial or failed.")
    stats = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-day", "-started_at"]
        indexes = [models.Index(fields=["cluster", "day"])]

    def __str__(self) -> str:
        return f"{self.cluster} {self.day} {self.status}"


class UsageDay(models.Model):
    """A user's usage on one cluster on one day. `user` is null for unattributed usage
    (project namespaces whose owner we do not know), kept for staff, never billed."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="usage_days",
    )
    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.PROTECT, related_name="usage_days"
    )
    date = models.DateField()
    status = models.CharField(max_length=16, choices=CollectionStatus.choices)
    collection_run = models.ForeignKey(
        CollectionRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage_days"
    )
    cost = models.DecimalField(**COST_FIELD, default=0)
    # The cost rounded to minor units once (billing.ledger.money), what the ledger and Stripe see.
    cost_cents = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, default="usd")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date", "cluster"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "cluster", "date"],
                condition=models.Q(user__isnull=False),
                name="usage_day_unique_user_cluster_date",
            ),
            models.UniqueConstraint(
                fields=["cluster", "date"],
                condition=models.Q(user__isnull=True),
                name="usage_day_unique_unattributed",
            ),
        ]
        indexes = [models.Index(fields=["user", "date"])]

    def __str__(self) -> str:
        return f"{self.user or 'unattributed'} {self.cluster} {self.date}"


class UsageLineItem(models.Model):
    """One measured quantity for one project. A null quantity means not measured (its source
    was not configured or failed): never read as zero."""

    usage_day = models.ForeignKey(UsageDay, on_delete=models.CASCADE, related_name="line_items")
    project = models.CharField(max_length=128)
    resource = models.CharField(max_length=32, choices=Resource.choices)
    instance_type = models.CharField(max_length=64, blank=True)
    quantity = models.DecimalField(**QUANTITY_FIELD, null=True, blank=True)
    unit_price = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    cost = models.DecimalField(**COST_FIELD, null=True, blank=True)

    class Meta:
        ordering = ["project", "resource", "instance_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["usage_day", "project", "resource", "instance_type"],
                name="usage_line_item_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.project} {self.resource} {self.quantity}"


class PodRecord(models.Model):
    """One row per pod a sampler or collection has seen (not a row per sample). The accounting
    rules that read it are in usage/services/rules.py."""

    cluster = models.ForeignKey("clusters.Cluster", on_delete=models.CASCADE, related_name="pods")
    namespace = models.CharField(max_length=253)
    name = models.CharField(max_length=253)
    uid = models.CharField(max_length=64)
    instance_type = models.CharField(max_length=64, blank=True)
    phase = models.CharField(max_length=16, blank=True)
    cpu_cores = models.DecimalField(**QUANTITY_FIELD, default=0)
    memory_gib = models.DecimalField(**QUANTITY_FIELD, default=0)
    gpus = models.DecimalField(**QUANTITY_FIELD, default=0)
    # A container with neither request nor limit for CPU or memory: it counted as 0.
    requests_missing = models.BooleanField(default=False)
    # Why the pod cannot be counted (unparseable or implausible requests); blank = fine.
    anomaly = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    last_running_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "uid"], name="pod_record_unique_uid")
        ]
        indexes = [models.Index(fields=["cluster", "last_seen_at"])]

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


class DeductionSweep(models.Model):
    """One pass of the nightly sweeper that charges prepaid usage days the collection did not
    fully deduct (a refused posting, a crash): what it checked and what it had to catch up."""

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    first_day = models.DateField()
    last_day = models.DateField()
    days_checked = models.PositiveIntegerField(default=0)
    days_caught_up = models.PositiveIntegerField(default=0)
    # Signed cents posted in total (usage debits are negative).
    cents_posted = models.BigIntegerField(default=0)
    # [{"usage_day", "user", "date", "cents"}] for each day caught up.
    caught_up = models.JSONField(default=list, blank=True)
    errors = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"sweep {self.started_at:%Y-%m-%d %H:%M}: {self.days_caught_up} caught up"


class SpendEstimate(models.Model):
    """Today's cost so far of one user's compute on one cluster, per resource: an estimate from
    the sampler's pod rows, priced like the nightly collection. Every sampler pass of the
    cluster overwrites its rows. Never posted to the ledger: it drives display, alerts, caps.
    `stale`: the last pass could not see the whole cluster (unreachable, a failing page, the
    project list unreadable), so the figure may be low."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="spend_estimates"
    )
    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="spend_estimates"
    )
    resource = models.CharField(max_length=32, choices=Resource.choices)
    day = models.DateField()
    quantity = models.DecimalField(**QUANTITY_FIELD)
    cost = models.DecimalField(**COST_FIELD)
    computed_at = models.DateTimeField()
    stale = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "cluster", "resource"], name="spend_estimate_unique"
            )
        ]
        indexes = [models.Index(fields=["cluster"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.cluster_id} {self.resource} {self.cost}"
