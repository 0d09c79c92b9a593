"""GET /readyz: the broker and the pending-task backlog are named checks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import PendingTask

pytestmark = pytest.mark.django_db


def test_the_broker_and_pending_tasks_pass_when_redis_answers(client, broker_queue):
    checks = client.get("/readyz").json()["checks"]
    assert checks["broker"]["ok"] and checks["pending_tasks"]["ok"]


def test_a_broker_outage_and_an_old_pending_task_are_named(client, broker_down):
    PendingTask.objects.create(task_name="billing.tasks.expire_credits")
    PendingTask.objects.update(created_at=timezone.now() - timedelta(minutes=20))
    body = client.get("/readyz").json()
    assert {"broker", "pending_tasks"} <= set(body["failing"])
    assert "unreachable" in body["checks"]["broker"]["error"]
