"""Nightly collection of one cluster-day: measure, price, write, deduct."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.budgets.alerts import spend_alerts_check_users
from billing.budgets.auto_topup import auto_topup_check_users
from billing.ledger import (
    BillingError,
    credits_deduct_usage,
)
from billing.ledger.calendar import day_bounds
from billing.ledger.money import round_cost, to_cents
from billing.models import BillingAccount
from clusters.kube import KubeClient, KubeError
from clusters.models import Cluster
from usage.models import CollectionRun, CollectionStatus, UsageDay, UsageLineItem
from usage.services.deductions import prepaid_usage_days
from usage.services.locks import cluster_day_lock
from usage.services.ownership import OwnersUnknown, ProjectOwner, owners_of_cluster
from usage.services.pricing import Line, lines_price
from usage.services.rollup import compute_rollup
from usage.services.sampler import pods_prune, pods_record
from usage.services.sources import (
    STORAGE,
    Measured,
    api_calls_measure,
    sources_not_configured,
    storage_measure,
)

logger = logging.getLogger(__name__)


class CollectionFailed(Exception):
    """Nothing can be written for this cluster-day (the reason is recorded on the run)."""


def usage_collect_day(*, cluster: Cluster, day: date, now: datetime | None = None) -> CollectionRun:
    """Collect one cluster-day; safe to rerun and to run twice at once.

    1. Take the cluster-day advisory lock; when another run holds it, record a skipped run.
    2. List pods once more (finished pods still there complete the sampler's picture).
    3. Namespaces and Hopsworks projects: who owns which namespace.
    4. Integrate the pod rows over the day (usage/services/rules.py).
    5. Storage and API calls per project from the cluster's sources.
    6. Price every line with the prices in effect that day; write the day's usage days and
       line items, replacing an earlier run's (a partial result never replaces a complete day).
    7. A complete day charges prepaid accounts through the ledger (only the difference on a
       rerun); a partial or failed day charges nothing.
    """
    now = now or timezone.now()
    if day_bounds(day)[1] < now - timedelta(days=settings.USAGE_POD_RETENTION_DAYS):
        return CollectionRun.objects.create(
            cluster=cluster,
            day=day,
            status=CollectionStatus.FAILED,
            reason="The day is older than the pod rows kept (USAGE_POD_RETENTION_DAYS); "
            "its usage stays as collected.",
            finished_at=timezone.now(),
        )
    with cluster_day_lock(cluster_id=cluster.pk, day=day) as acquired:
        if not acquired:
            return CollectionRun.objects.create(
                cluster=cluster,
                day=day,
                status=CollectionStatus.SKIPPED,
                reason="Another run of this cluster-day was in progress.",
                finished_at=timezone.now(),
            )
        run = CollectionRun.objects.create(cluster=cluster, day=day)
        try:
            _collect(run, cluster, day, now)
        except CollectionFailed as exc:
            _finish(run, CollectionStatus.FAILED, [str(exc)])
        except Exception as exc:
            _finish(run, CollectionStatus.FAILED, [f"unexpected error: {type(exc).__name__}"])
            raise
        return run


def _collect(run: CollectionRun, cluster: Cluster, day: date, now: datetime) -> None:
    problems: list[str] = []
    try:
        kube = KubeClient(cluster)
    except KubeError as exc:
        raise CollectionFailed(f"Kubernetes: {exc}") from exc
    with kube:
        try:
            sample = pods_record(cluster=cluster, kube=kube, now=now)
            problems += sample.problems
            run.stats["pods_listed"] = sample.pods_seen
        except KubeError as exc:
            problems.append(f"pod list failed, finished pods may be missing: {exc}")
        owners = _owners(cluster, kube)
        rollup = compute_rollup(cluster_id=cluster.pk, day=day, namespaces=set(owners))
        pods_prune(cluster=cluster, now=now)
        projects = {owner.project for owner in owners.values()}
        storage, storage_problems = storage_measure(cluster=cluster, kube=kube, projects=projects)
    storage = _with_earlier_storage(cluster, day, storage)
    if all(v is not None for quantities in storage.values() for v in quantities.values()):
        storage_problems = []
    api_calls, api_problems = api_calls_measure(cluster=cluster, day=day, owners=owners)
    problems += rollup.problems + storage_problems + api_problems
    if now < day_bounds(day)[1]:
        problems.append("the day is not over yet")
    lines, price_problems = lines_price(
        day=day, owners=owners, rollup=rollup, storage=storage, api_calls=api_calls
    )
    problems += price_problems
    status = CollectionStatus.PARTIAL if problems else CollectionStatus.COMPLETE
    run.stats.update(
        not_configured=sources_not_configured(cluster),
        projects=len(projects),
        pods_counted=rollup.pods_counted,
        pods_flagged_without_requests=rollup.pods_flagged,
    )
    if status == CollectionStatus.PARTIAL and _was_complete(cluster, day):
        problems.append("the complete figures of an earlier run are kept")
        _finish(run, status, problems)
        return
    days = _write(run, cluster, day, status, lines)
    if status == CollectionStatus.COMPLETE:
        problems += _deduct(days)
    _finish(run, status, problems)


def _was_complete(cluster: Cluster, day: date) -> bool:
    """A partial result never replaces a complete day (a rerun that meets a failing page must
    not undo what was measured and charged)."""
    return UsageDay.objects.filter(
        cluster=cluster, date=day, status=CollectionStatus.COMPLETE
    ).exists()


def _owners(cluster: Cluster, kube: KubeClient) -> dict[str, ProjectOwner]:
    try:
        return owners_of_cluster(cluster=cluster, kube=kube)
    except OwnersUnknown as exc:
        raise CollectionFailed(str(exc)) from exc


@transaction.atomic
def _write(run, cluster, day, status, lines: dict[int | None, list[Line]]) -> list[UsageDay]:
    """Replace the cluster-day's usage: one usage day per user (and one unattributed), its line
    items rewritten. Days of users without usage any more keep a zero cost, so a deduction made
    earlier is corrected."""
    existing = {
        d.user_id: d for d in UsageDay.objects.select_for_update().filter(cluster=cluster, date=day)
    }
    currencies = dict(
        BillingAccount.objects.filter(user_id__in=[u for u in lines if u]).values_list(
            "user_id", "currency"
        )
    )
    days = []
    for user_id in set(existing) | set(lines):
        usage_day = existing.get(user_id) or UsageDay(user_id=user_id, cluster=cluster, date=day)
        cost = sum((line.cost for line in lines.get(user_id, []) if line.cost), Decimal(0))
        usage_day.cost = round_cost(cost)
        usage_day.cost_cents = to_cents(usage_day.cost)
        usage_day.status = status
        usage_day.collection_run = run
        usage_day.currency = currencies.get(user_id, settings.BILLING_CURRENCY)
        usage_day.updated_at = timezone.now()  # bulk_update skips auto_now; caches key on it
        days.append(usage_day)
    fields = ["cost", "cost_cents", "status", "collection_run", "currency", "updated_at"]
    UsageDay.objects.bulk_update([d for d in days if d.pk], fields)
    UsageDay.objects.bulk_create([d for d in days if not d.pk])
    _line_items_replace(days, lines)
    return days


def _line_items_replace(days: list[UsageDay], lines: dict[int | None, list[Line]]) -> None:
    """Upsert on the line item's natural key, so a line that stays keeps its id (what other
    systems may refer to), then delete the lines the new run no longer has."""
    items = [
        UsageLineItem(usage_day=d, **line.__dict__)
        for d in days
        for line in lines.get(d.user_id, [])
    ]
    UsageLineItem.objects.bulk_create(
        items,
        update_conflicts=True,
        unique_fields=["usage_day", "project", "resource", "instance_type"],
        update_fields=["quantity", "unit_price", "cost"],
        batch_size=2000,
    )
    keep = {(i.usage_day.pk, i.project, i.resource, i.instance_type) for i in items}
    existing = UsageLineItem.objects.filter(usage_day__in=days).values_list(
        "pk", "usage_day_id", "project", "resource", "instance_type"
    )
    stale = [pk for pk, *key in existing if tuple(key) not in keep]
    if stale:
        UsageLineItem.objects.filter(pk__in=stale).delete()


def _with_earlier_storage(cluster: Cluster, day: date, storage: Measured) -> Measured:
    """Storage is a snapshot: a rerun keeps the snapshot an earlier run took for the day rather
    than the size at the time of the rerun (a backfill measures when nothing was measured)."""
    earlier = UsageLineItem.objects.filter(
        usage_day__cluster=cluster,
        usage_day__date=day,
        resource__in=list(STORAGE.values()),
        quantity__isnull=False,
    ).values_list("project", "resource", "quantity")
    for project, resource, quantity in earlier:
        if project in storage:
            storage[project][resource] = quantity
    return storage


def _finish(run: CollectionRun, status: str, problems: list[str]) -> None:
    run.status = status
    run.reason = "; ".join(problems + run.stats.get("not_configured", []))[:4000]
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "reason", "stats", "finished_at"])
    if problems:
        logger.warning("usage collection %s %s: %s: %s", run.cluster, run.day, status, run.reason)


def _deduct(days: list[UsageDay]) -> list[str]:
    """Charge prepaid accounts; a refused posting is reported (the day stays complete and the
    next run tries again), it does not stop the others."""
    refused = []
    for usage_day in prepaid_usage_days(days):
        try:
            credits_deduct_usage(
                account=usage_day.account,
                usage_ref=f"usage_day:{usage_day.pk}",
                cost_cents=usage_day.cost_cents,
            )
        except BillingError as exc:
            refused.append(f"deduction for usage day {usage_day.pk} refused: {exc}")
    user_ids = {d.user_id for d in days if d.user_id}
    spend_alerts_check_users(user_ids=user_ids)
    auto_topup_check_users(user_ids=user_ids)
    return refused
