"""Provisioning through a real Celery worker (a thread) against the local Redis.

`responses` patches the requests adapter process-wide, so the fakes answer the worker too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from celery.contrib.testing.worker import start_worker

from accounts.models import ProvisioningRun, ProvisioningStatus, User
from billing.models import BillingAccount
from config.celery import app

SECRET = "whsec-auth0-worker"


@pytest.fixture
def worker(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    app.control.purge()  # nothing left over from another run in this Redis db
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the worker")


def _signed_signup(client, settings, **body):
    settings.AUTH0_WEBHOOK_SECRET = SECRET
    raw = json.dumps({"user_id": "auth0|w1", "email": "worker@example.com", **body}).encode()
    ts = str(int(time.time()))
    sig = hmac.new(SECRET.encode(), ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return client.post(
        "/api/webhooks/auth0",
        data=raw,
        content_type="application/json",
        HTTP_X_SIGNATURE_TIMESTAMP=ts,
        HTTP_X_SIGNATURE=sig,
    )


def _run_status() -> str | None:
    run = ProvisioningRun.objects.filter(user__email="worker@example.com").first()
    return run.status if run else None


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_provisions_a_signed_signup_end_to_end(
    worker, client, settings, hopsworks, stripe_fake, cluster
):
    assert _signed_signup(client, settings).status_code == 202

    _wait_for(lambda: _run_status() == ProvisioningStatus.DONE)

    user = User.objects.get(email="worker@example.com")
    account = BillingAccount.objects.get(user=user)
    assert account.stripe_customer_id and account.stripe_subscription_id
    assert user.cluster_id == cluster.pk and user.hopsworks_user_id == 10001
    assert [p["name"] for p in hopsworks.projects] == ["worke000"]

    # Staff see the finished run and its steps in the panel.
    staff = User.objects.create_superuser("boss@example.com", "pw-boss-123456")
    client.force_login(staff)
    run = ProvisioningRun.objects.get(user=user)
    page = client.get(f"/admin/accounts/provisioningrun/{run.pk}/change/").content.decode()
    assert "default_project" in page and "worke000" in page and "sub_test1" in page
    client.logout()

    # The same person signs up again: the worker runs nothing new.
    assert _signed_signup(client, settings, name="Again").status_code == 202
    time.sleep(0.3)
    assert hopsworks.user_creates == 1 and hopsworks.project_creates == 1
    assert len(stripe_fake.customers) == 1 and len(stripe_fake.subscriptions) == 1


@pytest.mark.django_db(transaction=True)
def test_the_worker_retries_with_backoff_until_hopsworks_is_back(
    worker, client, settings, hopsworks, stripe_fake, cluster
):
    settings.PROVISIONING_RETRY_BASE_SECONDS = 0.1
    hopsworks.down = True
    assert _signed_signup(client, settings).status_code == 202

    _wait_for(lambda: ProvisioningRun.objects.filter(attempts__gte=2).exists())
    run = ProvisioningRun.objects.get()
    assert run.status in {ProvisioningStatus.WAITING, ProvisioningStatus.RUNNING}
    assert "unreachable" in run.last_error
    hopsworks.down = False

    _wait_for(lambda: _run_status() == ProvisioningStatus.DONE)
    assert hopsworks.user_creates == 1 and hopsworks.project_creates == 1
    assert len(stripe_fake.customers) == 1


@pytest.mark.django_db(transaction=True)
def test_the_worker_gives_up_after_its_retries_and_leaves_the_run_for_staff(
    worker, client, settings, hopsworks, stripe_fake, cluster
):
    settings.PROVISIONING_RETRY_BASE_SECONDS = 0.05
    settings.PROVISIONING_MAX_RETRIES = 2
    hopsworks.down = True
    assert _signed_signup(client, settings).status_code == 202

    _wait_for(lambda: _run_status() == ProvisioningStatus.FAILED)

    run = ProvisioningRun.objects.get()
    assert run.attempts == 3
    assert run.last_error.startswith("Gave up after 3 attempts: Hopsworks at c1 unreachable")
    assert hopsworks.user_creates == 0
