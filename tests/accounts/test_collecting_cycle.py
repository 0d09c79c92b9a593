"""The whole loop, faked at the HTTP boundary (Stripe webhooks in, Hopsworks and Kubernetes
out) on real PostgreSQL, with the clock moved by passing `now`: failed payment -> reminders ->
suspended -> paid -> resumed; and a prepaid balance below zero for too long."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone

from accounts.models import SuspensionKind, SuspensionRun, SuspensionStatus
from accounts.suspension import suspension_execute, suspension_exempt_set, suspension_sweep
from accounts.tasks import suspension_sync_user
from billing.ledger import credits_deduct_usage, credits_record_purchase, prepaid_enable
from billing.models import AccountStatus, BillingAccount, DunningCase, DunningReminder
from billing.payments.dunning import dunning_remind_due
from tests.stripe_fakes import post_event, stripe_event, stripe_object

CUSTOMER = "cus_alice"


def _invoice_event(kind: str, event_id: str, created: int) -> dict:
    invoice = stripe_object(
        "invoice", id="in_alice_1", customer=CUSTOMER, amount_due=12_345, currency="usd"
    )
    return stripe_event(kind, invoice, event_id=event_id, created=created)


def _account(user) -> BillingAccount:
    return BillingAccount.objects.get(user=user)


def _run_latest(user) -> SuspensionRun:
    run = SuspensionRun.objects.filter(user=user).order_by("-id").first()
    return suspension_execute(run=run)


def _subjects() -> list[str]:
    return [m.subject for m in mail.outbox]


@pytest.fixture
def postpaid_alice(alice, stripe_env):
    BillingAccount.objects.filter(user=alice).update(stripe_customer_id=CUSTOMER)
    return alice


def test_a_full_dunning_cycle_with_the_clock_moved(
    client, postpaid_alice, hopsworks, kube, settings, django_capture_on_commit_callbacks
):
    alice = postpaid_alice
    settings.DUNNING_GRACE_DAYS = 7
    with django_capture_on_commit_callbacks(execute=True):
        failed = post_event(
            client, _invoice_event("invoice.payment_failed", "evt_f1", int(time.time()))
        )
    assert failed.status_code == 200
    case = DunningCase.objects.get()
    t0 = case.started_at
    assert case.grace_ends_at == t0 + timedelta(days=7)
    assert _account(alice).status == AccountStatus.IN_ARREARS
    assert _subjects() == ["Payment failed for your Hopsworks invoice"]

    # Smart Retries fail again: same case, no second day-0 email.
    with django_capture_on_commit_callbacks(execute=True):
        again = _invoice_event("invoice.payment_failed", "evt_f2", int(time.time()) + 1)
        assert post_event(client, again).status_code == 200
    assert DunningCase.objects.count() == 1 and len(mail.outbox) == 1

    for days in (1, 3, 3, 5, 6, 6):
        with django_capture_on_commit_callbacks(execute=True):
            dunning_remind_due(now=t0 + timedelta(days=days, minutes=1))
        assert suspension_sweep(now=t0 + timedelta(days=days, minutes=1)) == {"runs_started": 0}
    assert _subjects() == [
        "Payment failed for your Hopsworks invoice",
        "Reminder: your Hopsworks invoice is unpaid",
        "Last day: your Hopsworks invoice is unpaid",
    ]
    assert DunningReminder.objects.filter(sent_at__isnull=False).count() == 3
    assert kube.writes == [] and hopsworks.status_changes == []

    # Grace over: the sweep suspends, the run stops the work and blocks the user.
    assert suspension_sweep(now=t0 + timedelta(days=7, minutes=1)) == {"runs_started": 1}
    run = _run_latest(alice)
    assert (run.kind, run.cause, run.status) == ("suspend", "dunning", SuspensionStatus.DONE)
    assert _account(alice).status == AccountStatus.SUSPENDED
    assert {d["metadata"]["name"]: d["spec"]["replicas"] for d in kube.deployments}[
        "fraud-predictor"
    ] == 0
    assert hopsworks.users[0]["status"] == 4
    assert suspension_sweep(now=t0 + timedelta(days=8)) == {"runs_started": 0}

    client.force_login(alice)
    cache.clear()
    page = client.get("/billing/").content.decode()
    assert "Your account is suspended" in page and "fraud in project alice_proj" in page
    assert "etl-1 (execution 7) in project alice_proj" in page
    assert "Your Hopsworks login is blocked" in page

    # Paid (a Smart Retry or the user's new card): the case closes and the user is unblocked.
    with django_capture_on_commit_callbacks(execute=False) as queued:
        paid = _invoice_event("invoice.paid", "evt_paid", int(time.time()) + 10)
        assert post_event(client, paid).status_code == 200
    assert DunningCase.objects.get().status == DunningCase.Status.PAID
    # After commit: the event's processing task (post_event ran it, as a worker would), then
    # the suspension follow-up it queued.
    assert len(queued) == 2
    assert suspension_sync_user(alice.pk).startswith("resume run")
    run = _run_latest(alice)
    assert (run.kind, run.status) == (SuspensionKind.RESUME, SuspensionStatus.DONE)
    assert _account(alice).status == AccountStatus.ACTIVE
    assert hopsworks.users[0]["status"] == 2
    assert {d["metadata"]["name"]: d["spec"]["replicas"] for d in kube.deployments}[
        "fraud-predictor"
    ] == 0  # not restarted by us; the page lists it
    cache.clear()
    page = client.get("/billing/").content.decode()
    assert "Your account was resumed" in page and "fraud in project alice_proj" in page
    assert suspension_sync_user(alice.pk) == "no change"


def test_a_prepaid_balance_below_zero_too_long_suspends_and_a_purchase_resumes(
    alice, hopsworks, kube, staff, settings
):
    settings.PREPAID_ARREARS_GRACE_HOURS = 24
    account = prepaid_enable(account=_account(alice), changed_by=staff, reason="test")
    credits_deduct_usage(account=account, usage_ref="usage_day:1", cost_cents=500)
    since = timezone.now()
    assert _account(alice).status == AccountStatus.IN_ARREARS

    assert suspension_sweep(now=since + timedelta(hours=23)) == {"runs_started": 0}
    assert suspension_sweep(now=since + timedelta(hours=25)) == {"runs_started": 1}
    run = _run_latest(alice)
    assert (run.cause, run.status) == ("prepaid_arrears", SuspensionStatus.DONE)
    assert _account(alice).status == AccountStatus.SUSPENDED and hopsworks.users[0]["status"] == 4

    credits_record_purchase(account=account, amount_cents=300, stripe_session_id="cs_small")
    assert suspension_sweep(now=since + timedelta(hours=26)) == {"runs_started": 0}  # still -2

    credits_record_purchase(account=account, amount_cents=1000, stripe_session_id="cs_more")
    assert suspension_sweep(now=since + timedelta(hours=27)) == {"runs_started": 1}
    run = _run_latest(alice)
    assert (run.kind, run.cause) == ("resume", "balance_restored")
    assert _account(alice).status == AccountStatus.ACTIVE and hopsworks.users[0]["status"] == 2


def test_an_exempt_account_is_never_suspended_by_the_sweep(alice, kube, staff):
    suspension_exempt_set(user=alice, staff=staff, reason="Enterprise contract", exempt=True)
    account = prepaid_enable(account=_account(alice), changed_by=staff, reason="test")
    credits_deduct_usage(account=account, usage_ref="usage_day:1", cost_cents=500)

    assert suspension_sweep(now=timezone.now() + timedelta(days=3)) == {"runs_started": 0}
    assert _account(alice).status == AccountStatus.IN_ARREARS
