"""The nightly chain through a real Celery worker on the local Redis: the beat task fans out
one collection task per cluster, the worker runs them, prepaid credits are deducted."""

from __future__ import annotations

import pytest
from celery.contrib.testing.worker import start_worker
from celery.result import AsyncResult

from billing.models import CreditTransaction
from config.celery import app
from usage.models import CollectionStatus, UsageDay
from usage.tasks import collect_usage

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("catalogue", "teammate_on_cluster"),
]


def test_the_nightly_chain_collects_and_deducts_through_a_worker(
    prepaid_account, owner, cluster, busy_day
):
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        fanned_out = collect_usage.delay("2024-01-15").get(timeout=30)
        results = [AsyncResult(t["task_id"], app=app).get(timeout=60) for t in fanned_out]

    assert [r["status"] for r in results] == [CollectionStatus.COMPLETE]
    mine = UsageDay.objects.get(user=owner, date="2024-01-15")
    assert mine.cost_cents == 1579
    assert CreditTransaction.objects.get(source_ref=f"usage_day:{mine.pk}").amount_cents == -1579
