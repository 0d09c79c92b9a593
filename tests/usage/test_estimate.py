"""Live spend: the sampler's estimate of today's cost so far."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum

from billing.ledger.money import to_cents
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
