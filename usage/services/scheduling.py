"""Which cluster-days to work on, as one Celery task each (so several workers share them)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from billing.ledger.calendar import billing_today
from clusters.models import Cluster
from jobs.services import task_send


def usage_default_day(*, now: datetime | None = None) -> date:
    """The day a nightly run collects: yesterday in the billing time zone."""
    return billing_today(now or timezone.now()) - timedelta(days=1)


class UsageDayRefused(ValueError):
    """A day that cannot be collected yet; the message says why and which day can."""


def usage_day_check(*, day: date, now: datetime | None = None) -> None:
    """A day can be collected once it is over in the billing time zone: today's usage is
    still growing, and a future day has none."""
    today = billing_today(now or timezone.now())
    latest = today - timedelta(days=1)
    if day > today:
        raise UsageDayRefused(
            f"{day} is in the future (today is {today} in {settings.BILLING_TIME_ZONE}); "
            f"the latest day that can be collected is {latest}."
        )
    if day == today:
        raise UsageDayRefused(
            f"{day} is today and not over yet in {settings.BILLING_TIME_ZONE}; "
            f"the latest day that can be collected is {latest}."
        )


def _clusters(cluster_id: int | None):
    clusters = Cluster.objects.filter(is_active=True).order_by("pk")
    if cluster_id is not None:
        clusters = Cluster.objects.filter(pk=cluster_id)
    return list(clusters.values_list("pk", flat=True))


def usage_collect_enqueue(*, day: date | None = None, cluster_id: int | None = None) -> list[dict]:
    """One collect task per cluster for the day (default yesterday)."""
    day = day or usage_default_day()
    return [
        {
            "cluster": pk,
            "date": day.isoformat(),
            "task_id": task_send(
                "usage.tasks.collect_cluster_day",
                args=[pk, day.isoformat()],
                keep_result=True,
                expires=6 * 3600,
            ),
        }
        for pk in _clusters(cluster_id)
    ]


def usage_sample_enqueue(*, cluster_id: int | None = None) -> list[dict]:
    return [
        {"cluster": pk, "task_id": task_send("usage.tasks.sample_cluster", args=[pk], expires=240)}
        for pk in _clusters(cluster_id)
    ]
