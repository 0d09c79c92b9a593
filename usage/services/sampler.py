"""The sampler: one paginated pod list per cluster, kept as one row per pod (PodRecord)."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from billing.budgets.alerts import spend_alerts_check_users
from clusters.kube import KubeClient, KubeError
from clusters.models import Cluster
from usage.models import PodRecord
from usage.services.estimate import spend_estimate_mark_stale, spend_estimate_refresh
from usage.services.rules import INSTANCE_TYPE_LABEL, MalformedPod, pod_facts

logger = logging.getLogger(__name__)

_ALWAYS_UPDATED = [
    "namespace",
    "name",
    "phase",
    "cpu_cores",
    "memory_gib",
    "gpus",
    "requests_missing",
    "anomaly",
    "started_at",
    "finished_at",
    "last_seen_at",
]
_BATCH = 1000


@dataclass
class SampleResult:
    pods_seen: int = 0
    malformed: int = 0
    problems: list[str] = field(default_factory=list)
    # Users whose spend estimate this pass refreshed (their alerts and caps are checked).
    estimated_users: set[int] = field(default_factory=set)


def usage_sample(*, cluster: Cluster, now: datetime | None = None) -> SampleResult:
    """One sampler pass over a cluster, then today's spend estimate from the pod rows. Raises
    KubeError when the pod list fails; the pages read before the failure are kept (they are
    true sightings) and the cluster's estimate is marked stale."""
    now = now or timezone.now()
    try:
        with KubeClient(cluster) as kube:
            result = pods_record(cluster=cluster, kube=kube, now=now)
            result.estimated_users = spend_estimate_refresh(
                cluster=cluster, kube=kube, now=now, complete=not result.problems
            )
    except KubeError:
        spend_estimate_mark_stale(cluster=cluster)
        raise
    spend_alerts_check_users(user_ids=result.estimated_users, now=now)
    return result


def pods_record(*, cluster: Cluster, kube: KubeClient, now: datetime) -> SampleResult:
    """1. Nodes, for their instance type (a failure leaves known types as they are).
    2. Pods page by page, upserted in batches: never a query per pod."""
    result = SampleResult()
    try:
        instance_types = {
            (node.get("metadata") or {}).get("name"): (
                ((node.get("metadata") or {}).get("labels") or {}).get(INSTANCE_TYPE_LABEL, "")
            )
            for node in kube.nodes()
        }
    except KubeError as exc:
        instance_types = {}
        result.problems.append(f"node list failed ({exc}); instance types not refreshed")
    batch: list[PodRecord] = []
    try:
        for raw in kube.pods():
            result.pods_seen += 1
            try:
                facts = pod_facts(raw)
            except MalformedPod:
                result.malformed += 1
                continue
            batch.append(_record(cluster, facts, instance_types.get(facts.node_name, ""), now))
            if len(batch) >= _BATCH:
                _upsert(batch)
                batch = []
    finally:
        _upsert(batch)  # what was read before a failing page is still a true sighting
    if result.malformed:
        result.problems.append(f"{result.malformed} pod(s) without uid or namespace ignored")
    return result


def pods_prune(*, cluster: Cluster, now: datetime) -> int:
    """Forget pods not seen for USAGE_POD_RETENTION_DAYS (days that old are not collected)."""
    cutoff = now - timedelta(days=settings.USAGE_POD_RETENTION_DAYS)
    deleted, _ = PodRecord.objects.filter(cluster=cluster, last_seen_at__lt=cutoff).delete()
    return deleted


def _record(cluster: Cluster, facts, instance_type: str, now: datetime) -> PodRecord:
    return PodRecord(
        cluster=cluster,
        namespace=facts.namespace,
        name=facts.name[:253],
        uid=facts.uid[:64],
        instance_type=instance_type[:64],
        phase=facts.phase[:16],
        cpu_cores=facts.cpu_cores,
        memory_gib=facts.memory_gib,
        gpus=facts.gpus,
        requests_missing=facts.requests_missing,
        anomaly=facts.anomaly,
        started_at=facts.started_at,
        finished_at=facts.finished_at,
        first_seen_at=now,
        last_seen_at=now,
        last_running_at=now if facts.phase == "Running" else None,
    )


def _upsert(records: list[PodRecord]) -> None:
    """Insert new pods, update known ones. `first_seen_at` is never overwritten; the last
    Running sighting and the instance type only when this sample knows them."""
    records = list({(r.cluster_id, r.uid): r for r in records}.values())  # a pod listed twice
    if not records:
        return
    if connection.vendor == "postgresql":
        _upsert_postgresql(records)
        return
    groups: dict[tuple[bool, bool], list[PodRecord]] = defaultdict(list)
    for record in records:
        groups[(record.last_running_at is not None, bool(record.instance_type))].append(record)
    for (running, typed), group in groups.items():
        fields = list(_ALWAYS_UPDATED)
        if running:
            fields.append("last_running_at")
        if typed:
            fields.append("instance_type")
        PodRecord.objects.bulk_create(
            group, update_conflicts=True, unique_fields=["cluster", "uid"], update_fields=fields
        )


_COLUMNS = [
    ("cluster_id", "bigint"),
    ("namespace", "text"),
    ("name", "text"),
    ("uid", "text"),
    ("instance_type", "text"),
    ("phase", "text"),
    ("cpu_cores", "numeric"),
    ("memory_gib", "numeric"),
    ("gpus", "numeric"),
    ("requests_missing", "boolean"),
    ("anomaly", "text"),
    ("started_at", "timestamptz"),
    ("finished_at", "timestamptz"),
    ("first_seen_at", "timestamptz"),
    ("last_seen_at", "timestamptz"),
    ("last_running_at", "timestamptz"),
]


def _upsert_postgresql(records: list[PodRecord]) -> None:
    """The same upsert as one statement over arrays (unnest): a column per parameter instead
    of a parameter per value, several times faster for 20,000 pods."""
    table = PodRecord._meta.db_table
    names = ", ".join(name for name, _ in _COLUMNS)
    arrays = ", ".join(f"%s::{kind}[]" for _, kind in _COLUMNS)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in _ALWAYS_UPDATED)
    sql = (
        f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT (cluster_id, uid) DO UPDATE SET {updates}, "
        f"last_running_at = COALESCE(EXCLUDED.last_running_at, {table}.last_running_at), "
        f"instance_type = COALESCE(NULLIF(EXCLUDED.instance_type, ''), {table}.instance_type)"
    )
    params = [[getattr(r, name) for r in records] for name, _ in _COLUMNS]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
