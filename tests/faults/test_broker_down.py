"""Redis (the broker) on a closed port: requests answer at once, work is recorded, and once
the broker is back the sweepers send each piece of work exactly once."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ProvisioningRun, User
from accounts.tasks import provisioning_resume_stale
from jobs.models import PendingTask
from jobs.services import pending_tasks_sweep
from tests.fakes.broker import broker_outage

pytestmark = pytest.mark.django_db
SECRET = "whsec-auth0-fault"


def signup(client, email: str):
    raw = json.dumps({"user_id": f"auth0|{email}", "email": email}).encode()
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"{ts}.".encode() + raw, hashlib.sha256).hexdigest()
    return client.post(
        "/api/webhooks/auth0", data=raw, content_type="application/json",
        HTTP_X_SIGNATURE_TIMESTAMP=ts, HTTP_X_SIGNATURE=digest,
    )


def test_signups_during_an_outage_are_accepted_and_provisioned_once_it_is_over(
    client, settings, broker_queue, django_capture_on_commit_callbacks
):
    settings.AUTH0_WEBHOOK_SECRET = SECRET
    with broker_outage(), django_capture_on_commit_callbacks(execute=True):
        answers = [signup(client, f"new{n}@example.com").status_code for n in range(3)]
    assert answers == [202] * 3
    assert ProvisioningRun.objects.filter(status="pending").count() == 3
    assert broker_queue.messages() == []

    ProvisioningRun.objects.update(updated_at=timezone.now() - timedelta(minutes=6))
    assert provisioning_resume_stale() == 3
    queued = [(m.task, m.args[0]) for m in broker_queue.messages()]
    users = set(User.objects.values_list("pk", flat=True))
    assert sorted(queued) == sorted(("accounts.tasks.provision_user", pk) for pk in users)


def test_prepaid_off_during_an_outage_commits_with_its_follow_up_and_the_sweep_sends_it_once(
    client, staff, prepaid_account, broker_queue, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    body = json.dumps({"account_id": prepaid_account.pk, "action": "prepaid_disable"})
    with broker_outage(), django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/admin/billing", body, content_type="application/json")
    assert response.status_code == 200
    prepaid_account.refresh_from_db()
    assert prepaid_account.mode == "postpaid"
    assert PendingTask.objects.get().status == "pending"

    later = timezone.now() + timedelta(minutes=2)
    with broker_outage():
        assert pending_tasks_sweep(now=later) == 0  # still down: kept
    assert pending_tasks_sweep(now=later) == 1
    assert pending_tasks_sweep(now=later) == 0
    assert [(m.task, m.args) for m in broker_queue.messages()] == [
        ("billing.tasks.subscription_ensure", [prepaid_account.pk])
    ]


@pytest.mark.parametrize("door", ["/api/billing/sync-stripe", "/api/usage/collect"])
def test_cron_doors_answer_503_and_queue_nothing(client, broker_down, door):
    from clusters.models import Cluster

    Cluster.objects.create(name="c", hopsworks_url="https://c.test")
    response = client.post(
        door, "{}", content_type="application/json", HTTP_AUTHORIZATION="Bearer dev-cron-secret"
    )
    assert response.status_code == 503
    assert "Nothing was queued" in response.json()["detail"]
