"""Spend caps that pause work: a hard budget (or prepaid credits used up) stops the user's
running deployments and job executions through the suspension runs, without blocking them;
raising the cap or the new month lifts it and the user starts their work again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail

from accounts.models import SuspensionCause, SuspensionKind, SuspensionRun, SuspensionStatus
from accounts.suspension import (
    pause_lift,
    pause_start,
    suspension_execute,
    suspension_exempt_set,
    suspension_latest,
    suspension_start,
    suspension_sweep,
    suspension_sync,
)
from accounts.tasks import suspension_sync_user
from billing.budgets.alerts import alert_settings_set, spend_alerts_check_users
from billing.budgets.caps import spend_cap_check
from billing.ledger import billing_account_ensure, credits_record_purchase, prepaid_enable
from billing.models import AutoTopUp, BudgetSettings, SpendPause
from jobs.models import PendingTask
from tests.billing.test_spend_alerts import NOW, estimate_set
from tests.concurrency import run_at_once
from usage.models import CollectionStatus, UsageDay

S = SuspensionStatus


@pytest.fixture(autouse=True)
def _at_now():
    """The clock at NOW (ticking): saving a budget checks the cap at the real time."""
    with time_machine.travel(NOW, tick=True):
        yield


def _hard_cap(user, budget_cents: int | None, *, hard: bool = True):
    account = billing_account_ensure(user=user)
    alert_settings_set(
        account=account,
        monthly_budget_cents=budget_cents,
        alert_percents=[],
        low_balance_thresholds_cents=None,
        hard_cap=hard,
    )
    return account


def _sync_and_run(user) -> SuspensionRun | None:
    """What the queued `suspension_sync_user` task and then `suspension_execute` do."""
    run = suspension_sync(user=user)
    return suspension_execute(run=run) if run else None


@pytest.fixture
def capped(alice, django_capture_on_commit_callbacks):
    """alice with a hard $10 budget and $12 spent today: the sampler pass's check pauses her."""
    account = _hard_cap(alice, 10_00)
    estimate_set(alice, alice.cluster, 12_00)
    with django_capture_on_commit_callbacks(execute=True):
        spend_alerts_check_users(user_ids={alice.pk}, now=NOW)
    return account


def test_a_hard_cap_pauses_running_work_without_blocking_the_user(capped, alice, hopsworks, kube):
    pause = SpendPause.objects.get(account=capped)
    assert (pause.reason, pause.amount_cents, pause.limit_cents) == ("hard_cap", 12_00, 10_00)

    run = _sync_and_run(alice)

    assert (run.kind, run.cause, run.status) == ("pause", SuspensionCause.SPEND_CAP, S.DONE)
    assert [s.name for s in run.steps.all()] == ["stop_deployments", "stop_jobs", "done"]
    assert kube.replicas()["fraud-predictor"] == 0 and kube.replicas()["other-predictor"] == 1
    assert "alice-proj/etl-1" not in kube.jobs
    assert hopsworks.status_changes == [] and hopsworks.users[0]["status"] == 2
    capped.refresh_from_db()
    assert capped.status == "active"
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert "paused by your spend cap" in mail.outbox[0].subject
    assert "$12.00" in mail.outbox[0].body and "$10.00" in mail.outbox[0].body


def test_raising_the_cap_lifts_the_pause_and_the_user_restarts_their_work(
    capped, alice, hopsworks, kube, client
):
    _sync_and_run(alice)
    client.force_login(alice)
    html = client.get("/billing/").content.decode()
    assert "paused by your spend cap" in html and "fraud in project alice_proj" in html

    _hard_cap(alice, 20_00)  # above the $12 spent
    assert SpendPause.objects.get().lift_reason == "The budget was raised above the spend."
    run = _sync_and_run(alice)
    assert (run.kind, run.status) == (SuspensionKind.UNPAUSE, S.DONE)
    assert hopsworks.status_changes == []
    html = client.get("/billing/").content.decode()
    assert "stopped pausing your work" in html and "start again what you need" in html

    kube.deployments[0]["spec"]["replicas"] = 2  # the user starts the serving again
    spend_alerts_check_users(user_ids={alice.pk}, now=NOW)
    assert _sync_and_run(alice) is None
    assert kube.replicas()["fraud-predictor"] == 2
    assert SpendPause.objects.count() == 1


def test_raising_the_cap_but_not_above_the_spend_keeps_the_pause(capped, alice):
    _hard_cap(alice, 11_00)
    assert SpendPause.objects.get().lifted_at is None


def test_turning_hard_off_lifts_the_pause(capped, alice, kube):
    _sync_and_run(alice)
    _hard_cap(alice, 10_00, hard=False)
    assert SpendPause.objects.get().lift_reason == "The hard cap was turned off."
    assert _sync_and_run(alice).kind == SuspensionKind.UNPAUSE


def test_the_new_month_lifts_the_pause_at_the_sweep(capped, alice, kube):
    _sync_and_run(alice)

    suspension_sweep(now=datetime(2026, 12, 1, 0, 10, tzinfo=UTC))

    assert SpendPause.objects.get().lift_reason == "A new month began."
    queued = PendingTask.objects.filter(
        task_name="accounts.tasks.suspension_sync_user", status=PendingTask.Status.PENDING
    )
    assert [t.args for t in queued] == [[alice.pk]]  # the lift's, sent after commit
    assert suspension_sync_user(alice.pk).startswith("unpause run")
    latest = suspension_latest(user=alice)
    assert latest.kind == SuspensionKind.UNPAUSE
    assert suspension_execute(run=latest).status == S.DONE


def test_a_stale_estimate_never_triggers_the_cap(alice, django_capture_on_commit_callbacks):
    account = _hard_cap(alice, 10_00)
    estimate_set(alice, alice.cluster, 50_00, stale=True)
    with django_capture_on_commit_callbacks(execute=True):
        spend_alerts_check_users(user_ids={alice.pk}, now=NOW)
    assert not SpendPause.objects.exists() and mail.outbox == []

    estimate_set(alice, alice.cluster, 50_00)  # the cluster answers again
    assert spend_cap_check(account=account, now=NOW).amount_cents == 50_00


def test_posted_spend_alone_reaches_the_cap_while_the_estimate_is_stale(alice):
    account = _hard_cap(alice, 10_00)
    UsageDay.objects.create(
        user=alice,
        cluster=alice.cluster,
        date=NOW.date().replace(day=19),
        status=CollectionStatus.COMPLETE,
        cost=10,
        cost_cents=10_00,
    )
    estimate_set(alice, alice.cluster, 3_00, stale=True)
    pause = spend_cap_check(account=account, now=NOW)
    assert pause.amount_cents == 10_00  # the stale estimate counted as zero


@pytest.mark.django_db(transaction=True)
def test_concurrent_sampler_passes_make_one_pause_one_run_and_one_email(alice, kube):
    account = _hard_cap(alice, 10_00)
    estimate_set(alice, alice.cluster, 12_00)

    _, errors = run_at_once(lambda i: spend_alerts_check_users(user_ids={alice.pk}, now=NOW), 8)
    assert errors == []
    _, errors = run_at_once(lambda i: suspension_sync(user=alice), 4)
    assert errors == []

    assert SpendPause.objects.filter(account=account).count() == 1
    assert SuspensionRun.objects.filter(user=alice, kind=SuspensionKind.PAUSE).count() == 1
    assert len([m for m in mail.outbox if "paused" in m.subject]) == 1


def test_prepaid_credits_used_up_by_todays_estimate_pause_then_buying_lifts(
    alice, staff, kube, hopsworks, django_capture_on_commit_callbacks
):
    account = prepaid_enable(
        account=billing_account_ensure(user=alice), changed_by=staff, reason="t"
    )
    credits_record_purchase(account=account, amount_cents=5_00, stripe_session_id="cs_1")
    estimate_set(alice, alice.cluster, 8_00)  # available -3.00, the balance still +5.00
    with django_capture_on_commit_callbacks(execute=True):
        spend_alerts_check_users(user_ids={alice.pk}, now=NOW)

    pause = SpendPause.objects.get()
    assert (pause.reason, pause.amount_cents) == ("prepaid_available", -3_00)
    assert _sync_and_run(alice).kind == SuspensionKind.PAUSE
    assert kube.replicas()["fraud-predictor"] == 0 and hopsworks.status_changes == []
    assert any("Buy credits" in m.body for m in mail.outbox)

    spend_alerts_check_users(user_ids={alice.pk}, now=NOW)  # no new credits: still paused
    assert SpendPause.objects.get().lifted_at is None
    credits_record_purchase(account=account, amount_cents=10_00, stripe_session_id="cs_2")
    spend_alerts_check_users(user_ids={alice.pk}, now=NOW)
    assert SpendPause.objects.get().lift_reason == "Credits were added."
    assert _sync_and_run(alice).kind == SuspensionKind.UNPAUSE


def test_prepaid_with_a_stale_estimate_is_not_paused(alice, staff):
    account = prepaid_enable(
        account=billing_account_ensure(user=alice), changed_by=staff, reason="t"
    )
    credits_record_purchase(account=account, amount_cents=5_00, stripe_session_id="cs_1")
    estimate_set(alice, alice.cluster, 8_00, stale=True)
    spend_alerts_check_users(user_ids={alice.pk}, now=NOW)
    assert not SpendPause.objects.exists()


def test_prepaid_with_auto_top_up_on_is_topped_up_not_paused(alice, staff):
    account = prepaid_enable(
        account=billing_account_ensure(user=alice), changed_by=staff, reason="t"
    )
    AutoTopUp.objects.create(
        account=account, enabled=True, threshold_cents=10_00, amount_cents=25_00
    )
    credits_record_purchase(account=account, amount_cents=5_00, stripe_session_id="cs_1")
    estimate_set(alice, alice.cluster, 8_00)  # available -3.00
    spend_alerts_check_users(user_ids={alice.pk}, now=NOW)
    assert not SpendPause.objects.exists()


def test_a_suspended_user_is_not_touched_by_pause_or_unpause(capped, alice, hopsworks, kube):
    suspension_execute(run=suspension_start(user=alice, cause=SuspensionCause.STAFF))
    assert hopsworks.status_changes == [(10001, 4)]

    assert pause_start(user=alice) is None
    assert _sync_and_run(alice) is None  # the open pause waits behind the suspension
    _hard_cap(alice, 50_00)  # the cap lifted while suspended
    assert pause_lift(user=alice) is None
    assert _sync_and_run(alice) is None

    assert suspension_latest(user=alice).kind == SuspensionKind.SUSPEND
    assert hopsworks.status_changes == [(10001, 4)] and hopsworks.users[0]["status"] == 4


def test_a_suspension_takes_over_a_pause_and_lifting_the_pause_unblocks_nobody(
    capped, alice, hopsworks, kube
):
    _sync_and_run(alice)
    suspension = suspension_execute(run=suspension_start(user=alice, cause=SuspensionCause.STAFF))
    assert suspension.kind == SuspensionKind.SUSPEND and hopsworks.users[0]["status"] == 4

    _hard_cap(alice, 50_00)
    assert _sync_and_run(alice) is None
    assert hopsworks.status_changes == [(10001, 4)]


@pytest.mark.parametrize(
    "body",
    [
        {"monthly_budget": "10", "hard_cap": "yes"},
        {"monthly_budget": "10", "hard_cap": 1},
        {"monthly_budget": "10", "hard_cap": "true"},
        {"monthly_budget": "10", "hard_cap": None},
        {"monthly_budget": None, "hard_cap": True},
    ],
)
def test_the_api_refuses_a_bad_hard_cap_with_a_400(client, alice, body):
    client.force_login(alice)
    response = client.put("/api/billing/alerts", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "hard_cap" in response.content.decode()
    assert not BudgetSettings.objects.exists()


def test_the_api_and_the_page_form_set_the_hard_cap(client, alice):
    client.force_login(alice)
    body = {"monthly_budget": "10", "hard_cap": True}
    response = client.put("/api/billing/alerts", body, content_type="application/json")
    assert response.status_code == 200 and response.json()["hard_cap"] is True

    response = client.post(
        "/billing/alerts/", {"monthly_budget": "", "alert_percents": "50", "hard_cap": "on"}
    )
    assert response.status_code == 400 and b"A hard cap needs a monthly budget." in response.content
    response = client.post("/billing/alerts/", {"monthly_budget": "12", "alert_percents": "50"})
    assert response.status_code == 302
    assert client.get("/api/billing/alerts").json()["hard_cap"] is False


def test_an_exempt_prepaid_user_is_not_paused_for_credits_but_is_by_their_hard_cap(
    alice, staff, client, outsider
):
    account = prepaid_enable(
        account=billing_account_ensure(user=alice), changed_by=staff, reason="t"
    )
    suspension_exempt_set(user=alice, staff=staff, reason="key customer", exempt=True)
    estimate_set(alice, alice.cluster, 8_00)  # available -8.00
    spend_alerts_check_users(user_ids={alice.pk}, now=NOW)
    assert not SpendPause.objects.exists()

    _hard_cap(alice, 5_00)  # saving checks the cap at once
    assert SpendPause.objects.get(account=account).reason == "hard_cap"
    client.force_login(outsider)
    assert b"paused by your spend cap" not in client.get("/billing/").content
