"""/healthz answers without touching anything; /readyz runs the named readiness checks and
answers 503 naming each failing one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ProvisioningRun, ProvisioningStatus, User
from config import health
from webhooks.models import WebhookEvent


def test_healthz_answers_without_the_database(client):
    # No `db` fixture: any database access in the request would raise.
    assert client.get("/healthz").status_code == 200


def test_readyz_is_ready_with_database_and_redis_up_and_nothing_waiting(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and body["failing"] == []
    assert set(body["checks"]) == {name for name, _ in health.READINESS_CHECKS}
    assert body["checks"]["database"] == {"ok": True, "vendor": "postgresql"}
    assert body["checks"]["webhook_events"]["oldest_age_seconds"] == 0


def test_readyz_names_redis_when_it_is_unreachable(client, db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis"]
    assert "Redis unreachable" in body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["ok"] is True


def test_readyz_fails_when_a_webhook_event_waits_too_long(client, db, settings):
    settings.READYZ_WEBHOOK_MAX_AGE_SECONDS = 600
    event = WebhookEvent.objects.create(
        source="stripe", external_id="evt_old", event_type="invoice.paid", payload={}
    )
    WebhookEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - timedelta(minutes=30)
    )
    WebhookEvent.objects.create(
        source="stripe",
        external_id="evt_done",
        event_type="invoice.paid",
        payload={},
        status=WebhookEvent.Status.PROCESSED,
    )

    response = client.get("/readyz")

    assert response.status_code == 503
    check = response.json()["checks"]["webhook_events"]
    assert check["ok"] is False and 1790 <= check["oldest_age_seconds"] <= 1900
    assert "unprocessed webhook event" in check["error"]
    assert (check["unprocessed"], check["failed"]) == (1, 0)


def test_readyz_shows_the_webhook_queue_depth_while_it_is_young(client, db):
    for n, status in enumerate(["received", "received", "failed", "processed"]):
        WebhookEvent.objects.create(
            source="stripe", external_id=f"evt_{n}", event_type="invoice.paid", payload={},
            status=status,
        )
    response = client.get("/readyz")
    assert response.status_code == 200
    check = response.json()["checks"]["webhook_events"]
    assert (check["ok"], check["unprocessed"], check["failed"]) == (True, 2, 1)
    assert 0 <= check["oldest_age_seconds"] < 60


@pytest.mark.parametrize(
    ("status", "overdue_minutes", "ready"),
    [
        (ProvisioningStatus.WAITING, 120, False),
        (ProvisioningStatus.WAITING, 10, True),
        (ProvisioningStatus.FAILED, 600, True),  # waits for staff, not for a worker
    ],
)
def test_readyz_counts_provisioning_runs_overdue_for_a_worker(
    client, db, settings, status, overdue_minutes, ready
):
    settings.READYZ_PROVISIONING_MAX_AGE_SECONDS = 3600
    user = User.objects.create_user("late@example.com", "pw-late-123")
    due = timezone.now() - timedelta(minutes=overdue_minutes)
    ProvisioningRun.objects.create(user=user, status=status, next_attempt_at=due)

    response = client.get("/readyz")

    assert (response.status_code == 200) is ready
    assert response.json()["checks"]["provisioning"]["ok"] is ready


def test_a_crashing_check_answers_503_naming_it_and_the_others_still_run(client, db, monkeypatch):
    def broken() -> dict:
        raise RuntimeError("boom")

    monkeypatch.setattr(health, "READINESS_CHECKS", [*health.READINESS_CHECKS, ("broken", broken)])
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["broken"]
    assert response.json()["checks"]["broken"]["error"] == "RuntimeError: boom"
