"""Live spend: the sampler's estimate of today's cost so far."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum

from billing.budgets.alerts import alert_settings_set
from billing.budgets.caps import spend_cap_check
from billing.ledger import billing_account_ensure
from billing.ledger.money import to_cents
from billing.models import SpendPause
from jobs.models import PendingTask
from tests.fakes.kube_server import Failure, pod
from tests.usage.conftest import COLLECTED_AT, at
from usage.models import SpendEstimate, UsageLineItem
from usage.services import usage_collect_day, usage_sample
from usage.services.rollup import COMPUTE

SAMPLED_AT = at("2024-01-15T23:00:00")


def _estimate_cents(user) -> int:
    total = SpendEstimate.objects.filter(user=user).aggregate(c=Sum("cost"))["c"]
    return to_cents(total or Decimal(0))


def test_the_estimate_matches_the_nightly_collection_of_the_same_pods(
    owner, teammate_on_cluster, catalogue, cluster, busy_day, hopsworks
):
    usage_sample(cluster=cluster, now=SAMPLED_AT)
    busy_day.pods = []  # everything gone by the night: both count up to the last sighting
    usage_collect_day(cluster=cluster, day=SAMPLED_AT.date(), now=COLLECTED_AT)

    for user in (owner, teammate_on_cluster):
        collected = UsageLineItem.objects.filter(
            usage_day__user=user, resource__in=COMPUTE
        ).aggregate(c=Sum("cost"))["c"]
        assert collected > 0
        assert abs(_estimate_cents(user) - to_cents(collected)) <= 1
        for row in SpendEstimate.objects.filter(user=user):
            line_cost = UsageLineItem.objects.filter(
                usage_day__user=user, resource=row.resource
            ).aggregate(c=Sum("cost"))["c"]
            assert abs(row.cost - line_cost) < Decimal("0.01")
    assert not SpendEstimate.objects.filter(stale=True).exists()
    assert SpendEstimate.objects.filter(user__isnull=True).count() == 0


def test_every_pass_overwrites_the_clusters_rows(owner, catalogue, cluster, busy_day):
    usage_sample(cluster=cluster, now=at("2024-01-15T13:00:00"))
    first = _estimate_cents(owner)
    usage_sample(cluster=cluster, now=at("2024-01-15T18:00:00"))

    assert _estimate_cents(owner) > first
    rows = SpendEstimate.objects.filter(user=owner)
    assert {r.computed_at for r in rows} == {at("2024-01-15T18:00:00")}
    assert rows.count() == len({r.resource for r in rows})


def test_an_unreachable_cluster_leaves_the_estimate_stale(owner, catalogue, cluster, busy_day):
    usage_sample(cluster=cluster, now=at("2024-01-15T13:00:00"))
    busy_day.failures["pods"] = Failure(status=500, page=2)
    with pytest.raises(Exception):  # noqa: B017 - the sampler's KubeError, whatever subclass
        usage_sample(cluster=cluster, now=at("2024-01-15T13:05:00"))

    rows = SpendEstimate.objects.filter(user=owner)
    assert rows.exists() and all(r.stale for r in rows)


def test_an_unreadable_project_list_leaves_the_estimate_stale(
    owner, catalogue, cluster, busy_day, hopsworks
):
    usage_sample(cluster=cluster, now=at("2024-01-15T13:00:00"))
    hopsworks["projects"] = None  # Hopsworks answers garbage
    busy_day.pods.append(pod("late", "alpha", started=at("2024-01-15T13:01:00")))
    usage_sample(cluster=cluster, now=at("2024-01-15T13:05:00"))

    rows = SpendEstimate.objects.filter(user=owner)
    assert rows.exists() and all(r.stale for r in rows)
    assert {r.computed_at for r in rows} == {at("2024-01-15T13:00:00")}


def _hard_cap(user, budget_cents: int) -> None:
    alert_settings_set(
        account=billing_account_ensure(user=user),
        monthly_budget_cents=budget_cents,
        alert_percents=[],
        low_balance_thresholds_cents=None,
        hard_cap=True,
    )


def test_the_sampler_pass_pauses_at_a_hard_cap_but_never_on_a_stale_estimate(
    owner, catalogue, cluster, busy_day
):
    _hard_cap(owner, 1_000_00)
    usage_sample(cluster=cluster, now=at("2024-01-15T13:00:00"))
    assert _estimate_cents(owner) > 1 and not SpendPause.objects.exists()

    busy_day.failures["pods"] = Failure(status=500, page=2)
    with pytest.raises(Exception):  # noqa: B017 - the sampler's KubeError
        usage_sample(cluster=cluster, now=at("2024-01-15T13:05:00"))
    _hard_cap(owner, 1)  # one cent: only the (now stale) estimate is above it
    spend_cap_check(account=billing_account_ensure(user=owner), now=at("2024-01-15T13:06:00"))
    assert not SpendPause.objects.exists()

    busy_day.failures.clear()
    usage_sample(cluster=cluster, now=at("2024-01-15T13:10:00"))
    pause = SpendPause.objects.get()
    assert (pause.reason, pause.period, pause.limit_cents) == ("hard_cap", "2024-01", 1)
    assert PendingTask.objects.filter(task_name="accounts.tasks.suspension_sync_user").exists()
