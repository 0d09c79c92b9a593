"""GET /readyz: named checks; the broker is reported but never makes the app unready."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import PendingTask

pytestmark = pytest.mark.django_db


def checks(response) -> dict:
    return {c["name"]: c for c in response.json()["checks"]}


def test_it_lists_database_broker_and_pending_tasks(client, broker_queue):
    response = client.get("/readyz")
    assert response.status_code == 200
    found = checks(response)
    assert found["database"]["ok"] and found["broker"]["ok"]
    assert found["pending tasks"]["detail"] == "none pending"


def test_a_broker_outage_is_reported_but_the_app_stays_ready(client, broker_down):
    PendingTask.objects.create(task_name="billing.tasks.expire_credits")
    PendingTask.objects.update(created_at=timezone.now() - timedelta(minutes=20))
    response = client.get("/readyz")
    assert response.status_code == 200
    found = checks(response)
    assert found["broker"]["ok"] is False
    assert found["broker"]["detail"].startswith("unreachable")
    assert found["pending tasks"]["ok"] is False
    assert found["pending tasks"]["detail"].startswith("oldest pending 1")
