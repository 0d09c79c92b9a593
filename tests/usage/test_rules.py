"""The accounting rules (usage/services/rules.py) on real-shaped pods."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.ledger.calendar import day_bounds
from tests.fakes.kube_server import container, pod
from usage.services.rules import (
    ClockSkew,
    MalformedPod,
    hours_within,
    pod_facts,
    running_interval,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_effective_request_is_the_larger_of_app_sum_and_init_max():
    facts = pod_facts(
        pod(
            "p",
            "alpha",
            containers=[
                container("a", requests={"cpu": "500m", "memory": "1Gi"}),
                container("b", requests={"cpu": "1500m", "memory": "1Gi"}),
            ],
            init_containers=[
                container("init1", requests={"cpu": "3", "memory": "512Mi"}),
                container("init2", requests={"cpu": "1", "memory": "1Gi"}),
            ],
        )
    )
    assert facts.cpu_cores == Decimal(3)  # init max 3 > app sum 2
    assert facts.memory_gib == Decimal(2)  # app sum 2Gi > init max 1Gi
    assert facts.requests_missing is False


def test_a_container_without_request_uses_its_limit():
    facts = pod_facts(
        pod("p", "alpha", containers=[container(limits={"cpu": "2", "memory": "4Gi"})])
    )
    assert (facts.cpu_cores, facts.memory_gib) == (Decimal(2), Decimal(4))
    assert facts.requests_missing is False


def test_a_container_with_neither_counts_zero_and_flags_the_pod():
    facts = pod_facts(
        pod("p", "alpha", containers=[container("a"), container("b", requests={"cpu": "1"})])
    )
    assert facts.cpu_cores == Decimal(1)
    assert facts.memory_gib == 0
    assert facts.requests_missing is True


def test_gpus_come_from_nvidia_and_amd_requests_or_limits():
    facts = pod_facts(
        pod(
            "p",
            "alpha",
            containers=[
                container(
                    "a", requests={"cpu": "1", "memory": "1Gi"}, limits={"nvidia.com/gpu": "2"}
                ),
                container("b", requests={"cpu": "1", "memory": "1Gi", "amd.com/gpu": "1"}),
            ],
        )
    )
    assert facts.gpus == Decimal(3)


def test_huge_or_unreadable_requests_are_an_anomaly_not_a_number():
    huge = pod_facts(pod("p", "a", containers=[container(requests={"cpu": "1e9", "memory": "1"})]))
    bad = pod_facts(pod("q", "a", containers=[container(requests={"cpu": "lots", "memory": "1"})]))
    assert huge.anomaly.startswith("implausible") and huge.cpu_cores == 0
    assert bad.anomaly.startswith("unreadable")


def test_a_finished_pod_ends_at_its_latest_container_finish():
    facts = pod_facts(
        pod(
            "p",
            "alpha",
            phase="Succeeded",
            started=at("2024-01-15T10:00:00"),
            finished=[at("2024-01-15T11:00:00"), at("2024-01-15T11:30:00")],
            containers=[container("a"), container("b")],
        )
    )
    assert facts.started_at == at("2024-01-15T10:00:00")
    assert facts.finished_at == at("2024-01-15T11:30:00")


def test_a_pod_without_uid_is_malformed():
    raw = pod("p", "alpha")
    raw["metadata"].pop("uid")
    with pytest.raises(MalformedPod):
        pod_facts(raw)


def test_pending_never_running_costs_nothing():
    assert (
        running_interval(
            started_at=None,
            finished_at=None,
            first_seen_at=at("2024-01-15T00:00:00"),
            last_running_at=None,
        )
        is None
    )


def test_finish_before_start_is_clock_skew():
    with pytest.raises(ClockSkew):
        running_interval(
            started_at=at("2024-01-15T10:00:00"),
            finished_at=at("2024-01-15T09:00:00"),
            first_seen_at=at("2024-01-15T10:00:00"),
            last_running_at=None,
        )


def test_an_interval_over_midnight_splits_exactly_at_the_day_boundary():
    start, end = at("2024-01-14T22:00:00"), at("2024-01-15T02:00:00")
    assert hours_within(start, end, day_bounds(date(2024, 1, 14))) == Decimal(2)
    assert hours_within(start, end, day_bounds(date(2024, 1, 15))) == Decimal(2)
    assert hours_within(start, end, day_bounds(date(2024, 1, 16))) == 0


def test_day_boundaries_follow_the_billing_time_zone(settings):
    settings.BILLING_TIME_ZONE = "Europe/Stockholm"
    start, end = day_bounds(date(2024, 3, 31))  # DST starts: a 23-hour day
    assert start.astimezone(UTC) == at("2024-03-30T23:00:00")
    assert hours_within(start, end, (start, end)) == Decimal(23)


def test_a_pod_seen_running_before_its_start_time_has_not_run_yet():
    # The cluster's clock is a little ahead of ours: no cost, and no anomaly either.
    assert (
        running_interval(
            started_at=at("2024-01-15T10:00:30"),
            finished_at=None,
            first_seen_at=at("2024-01-15T10:00:00"),
            last_running_at=at("2024-01-15T10:00:00"),
        )
        is None
    )
