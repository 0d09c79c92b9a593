"""Celery doors into usage.services: take ids, load rows, call one service."""

from __future__ import annotations

import logging
from datetime import date

from celery import shared_task

from clusters.kube import KubeError
from clusters.models import Cluster
from usage.services import (
    usage_collect_day,
    usage_collect_enqueue,
    usage_sample,
    usage_sample_enqueue,
)
from usage.services.deductions import deductions_catch_up

logger = logging.getLogger(__name__)


@shared_task
def sample_usage() -> list[dict]:
    """Beat, every 5 minutes: one sampling task per active cluster."""
    return usage_sample_enqueue()


@shared_task
def sample_cluster(cluster_id: int) -> dict:
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return {"cluster": cluster_id, "error": "no such cluster"}
    try:
        result = usage_sample(cluster=cluster)
    except KubeError as exc:
        logger.warning("usage sampling of %s failed: %s", cluster, exc)
        return {"cluster": cluster_id, "error": str(exc)}
    return {"cluster": cluster_id, "pods": result.pods_seen, "problems": result.problems}


@shared_task
def collect_usage(day: str | None = None) -> list[dict]:
    """Beat, at 02:00: one collection task per active cluster for yesterday."""
    return usage_collect_enqueue(day=date.fromisoformat(day) if day else None)


@shared_task
def collect_cluster_day(cluster_id: int, day: str) -> dict:
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return {"cluster": cluster_id, "error": "no such cluster"}
    run = usage_collect_day(cluster=cluster, day=date.fromisoformat(day))
    return {"cluster": cluster_id, "date": day, "run": run.pk, "status": run.status}


@shared_task
def catch_up_deductions() -> dict:
    """Beat, nightly after the collection: charge prepaid days not fully deducted."""
    sweep = deductions_catch_up()
    return {"sweep": sweep.pk, "checked": sweep.days_checked, "caught_up": sweep.days_caught_up}
