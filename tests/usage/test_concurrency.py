"""Two runs of the same cluster-day at once: one writes, the other skips (advisory lock)."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from django.db import connection

from tests.concurrency import run_at_once
from tests.usage.conftest import COLLECTED_AT
from usage.models import CollectionRun, CollectionStatus, UsageDay
from usage.services import cluster_day_lock_key, usage_collect_day

DAY = date(2024, 1, 15)
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("catalogue", "teammate_on_cluster"),
]


def test_a_run_that_finds_the_cluster_day_locked_skips_and_writes_nothing(cluster, busy_day):
    key = cluster_day_lock_key(cluster_id=cluster.pk, day=DAY)
    with psycopg.connect(**connection.get_connection_params()) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [key])
        run = usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
        # Unlocked here, not by closing: a closing backend may release it a moment later.
        other.execute("SELECT pg_advisory_unlock(%s)", [key])
    assert run.status == CollectionStatus.SKIPPED
    assert not UsageDay.objects.exists()
    # The lock is free again: the next run does the work.
    assert usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT).status == "complete"


def test_two_concurrent_runs_never_both_write(owner, cluster, busy_day):
    busy_day.delay = 0.1  # each list request takes a while: the runs overlap

    def collect(_):
        return usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT).status

    statuses, errors = run_at_once(collect, 2)
    assert errors == []
    assert sorted(statuses) == [CollectionStatus.COMPLETE, CollectionStatus.SKIPPED]
    assert UsageDay.objects.filter(date=DAY).count() == 3
    assert CollectionRun.objects.count() == 2
