"""Compute usage of one cluster-day from the pod rows: set-based, one streamed query."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Q

from billing.ledger.calendar import day_bounds
from billing.models import Resource
from usage.models import PodRecord
from usage.services.rules import ClockSkew, hours_within, running_interval

COMPUTE = (
    Resource.INSTANCE_HOURS,
    Resource.CPU_HOURS,
    Resource.GPU_HOURS,
    Resource.MEMORY_GB_HOURS,
)


@dataclass
class ComputeRollup:
    # (namespace, instance type) -> resource -> hours
    totals: dict[tuple[str, str], dict[str, Decimal]] = field(default_factory=dict)
    pods_counted: int = 0
    pods_flagged: int = 0
    problems: list[str] = field(default_factory=list)


def compute_rollup(*, cluster_id: int, day: date, namespaces: set[str]) -> ComputeRollup:
    """Rules 3-5 of usage/services/rules.py over every pod of the cluster that may overlap the
    day, restricted to project namespaces."""
    window = day_bounds(day)
    rows = (
        PodRecord.objects.filter(cluster_id=cluster_id, last_seen_at__gte=window[0])
        .filter(
            Q(started_at__lt=window[1]) | Q(started_at__isnull=True, first_seen_at__lt=window[1])
        )
        .values_list(
            "namespace",
            "name",
            "instance_type",
            "cpu_cores",
            "memory_gib",
            "gpus",
            "requests_missing",
            "anomaly",
            "started_at",
            "finished_at",
            "first_seen_at",
            "last_running_at",
        )
    )
    rollup = ComputeRollup()
    skipped: list[str] = []
    for row in rows.iterator(chunk_size=5000):
        namespace, name, itype, cpu, memory, gpus, missing, anomaly = row[:8]
        if namespace not in namespaces:
            continue
        if anomaly:
            skipped.append(f"{namespace}/{name}: {anomaly}")
            continue
        started_at, finished_at, first_seen_at, last_running_at = row[8:]
        try:
            interval = running_interval(
                started_at=started_at,
                finished_at=finished_at,
                first_seen_at=first_seen_at,
                last_running_at=last_running_at,
            )
        except ClockSkew as exc:
            skipped.append(f"{namespace}/{name}: {exc}")
            continue
        if interval is None:
            continue
        hours = hours_within(interval[0], interval[1], window)
        if not hours:
            continue
        rollup.pods_counted += 1
        rollup.pods_flagged += bool(missing)
        _add(rollup.totals, (namespace, itype), hours, cpu, memory, gpus)
    if skipped:
        rollup.problems.append(f"{len(skipped)} pod(s) not counted, e.g. {skipped[0]}")
    return rollup


def _add(totals, key, hours: Decimal, cpu: Decimal, memory: Decimal, gpus: Decimal) -> None:
    slot = totals.setdefault(key, dict.fromkeys(COMPUTE, Decimal(0)))
    slot[Resource.INSTANCE_HOURS] += hours
    slot[Resource.CPU_HOURS] += hours * cpu
    slot[Resource.GPU_HOURS] += hours * gpus
    slot[Resource.MEMORY_GB_HOURS] += hours * memory
