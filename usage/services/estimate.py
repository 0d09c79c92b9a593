"""Live spend: today's cost so far per user, cluster and resource, from the sampler's pod rows.

The same code as the nightly collection measures and prices it (rollup.compute_rollup,
pricing.lines_price), so the estimate of a day equals its collection for the same pods. Only
compute is estimated: storage is a nightly snapshot and API calls a nightly Prometheus query.
The estimate is never posted to the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from billing.ledger.calendar import billing_today
from billing.ledger.money import round_cost
from clusters.kube import KubeClient
from clusters.models import Cluster
from usage.models import SpendEstimate
from usage.services.ownership import OwnersUnknown, owners_of_cluster
from usage.services.pricing import lines_price
from usage.services.rollup import compute_rollup


def spend_estimate_refresh(
    *, cluster: Cluster, kube: KubeClient, now: datetime, complete: bool
) -> set[int]:
    """1. Who owns which namespace (unknown: the cluster's estimate is marked stale).
    2. Today's compute from the pod rows, priced with today's prices.
    3. Overwrite the cluster's rows; `stale` unless the sampler pass saw every page.
    Returns the ids of the users with an estimate on the cluster."""
    try:
        owners = owners_of_cluster(cluster=cluster, kube=kube)
    except OwnersUnknown:
        spend_estimate_mark_stale(cluster=cluster)
        return set()
    day = billing_today(now)
    rollup = compute_rollup(cluster_id=cluster.pk, day=day, namespaces=set(owners))
    lines, _ = lines_price(day=day, owners=owners, rollup=rollup, storage={}, api_calls={})
    totals: dict[tuple[int, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for user_id, user_lines in lines.items():
        if user_id is None:
            continue  # unattributed usage is nobody's spend
        for line in user_lines:
            slot = totals[(user_id, line.resource)]
            slot[0] += line.quantity or 0
            slot[1] += line.cost or 0
    rows = [
        SpendEstimate(
            user_id=user_id,
            cluster=cluster,
            resource=resource,
            day=day,
            quantity=round_cost(quantity),
            cost=round_cost(cost),
            computed_at=now,
            stale=not complete or bool(rollup.problems),
        )
        for (user_id, resource), (quantity, cost) in totals.items()
    ]
    _overwrite(cluster, rows, now)
    return {user_id for user_id, _ in totals}


@transaction.atomic
def _overwrite(cluster: Cluster, rows: list[SpendEstimate], now: datetime) -> None:
    """Upsert, then drop what this pass no longer has: two passes at once never collide."""
    SpendEstimate.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["user", "cluster", "resource"],
        update_fields=["day", "quantity", "cost", "computed_at", "stale"],
        batch_size=2000,
    )
    SpendEstimate.objects.filter(cluster=cluster, computed_at__lt=now).delete()


def spend_estimate_mark_stale(*, cluster: Cluster) -> int:
    """A sampler gap: the cluster's last figures stay, flagged as possibly low."""
    return SpendEstimate.objects.filter(cluster=cluster).update(stale=True)
