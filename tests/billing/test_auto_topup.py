"""Auto top-up charges: a balance crossing its threshold after a debit gives exactly one
off-session PaymentIntent, keyed by the local top-up row; failures are recorded, never looped."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core import mail

from billing.budgets.auto_topup import auto_topup_check, auto_topup_is_on
from billing.ledger import credits_deduct_usage, credits_record_purchase
from billing.models import AutoTopUp, AutoTopUpCharge, BillingAccount, CreditTransaction
from clusters.models import Cluster
from jobs.models import PendingTask
from tests.billing.auto_topup_data import auto_topup_ready
from tests.concurrency import run_at_once
from tests.stripe_fakes import PaymentIntentsFake
from usage.models import UsageDay
from usage.services.deductions import deductions_catch_up

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)


@pytest.fixture
def topup_account(prepaid_account, stripe_env):
    """$20 of credits, a saved card, auto top-up of $25 below $10."""
    account = auto_topup_ready(prepaid_account)
    credits_record_purchase(account=account, amount_cents=2000, stripe_session_id="cs_1")
    return account


@pytest.fixture
def intents(stripe_http):
    return PaymentIntentsFake(stripe_http)


def spend(account, cents: int, ref: str = "usage_day:1") -> None:
    credits_deduct_usage(account=account, usage_ref=ref, cost_cents=cents)


def granted(account) -> list[CreditTransaction]:
    return list(CreditTransaction.objects.filter(account=account, source_ref__startswith="pay"))


def test_the_nightly_deduction_crossing_the_threshold_charges_once_with_the_rows_key(
    topup_account, intents, eager_tasks, django_capture_on_commit_callbacks
):
    cluster = Cluster.objects.create(name="c1", hopsworks_url="https://c1.test/api")
    UsageDay.objects.create(
        user=topup_account.user,
        cluster=cluster,
        date=date(2026, 11, 24),
        status="complete",
        cost=Decimal("15.00"),
        cost_cents=1500,
    )
    with django_capture_on_commit_callbacks(execute=True):
        deductions_catch_up(now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        assert auto_topup_check(account=topup_account) is None  # the same crossing

    charge = AutoTopUpCharge.objects.get()
    assert len(intents.created) == 1
    key, form = intents.created[0]
    assert key == f"auto-topup:{charge.pk}"
    assert form["off_session"] == "true" and form["confirm"] == "true"
    assert (form["customer"], form["payment_method"], form["amount"]) == (
        "cus_topup",
        "pm_card_visa",
        "2500",
    )
    assert form["metadata[hopsbill_auto_topup_id]"] == str(charge.pk)
    charge.refresh_from_db()
    assert charge.status == AutoTopUpCharge.Status.SUCCEEDED
    assert charge.balance_cents == 500
    topup_account.refresh_from_db()
    assert topup_account.balance_cents == 500 + 2500
    assert PendingTask.objects.get(key=f"auto-topup:{charge.pk}")


def test_the_charge_is_recorded_and_queued_before_stripe_is_called(topup_account, intents):
    spend(topup_account, 1500)
    charge = auto_topup_check(account=topup_account)  # on_commit never runs: broker "down"
    assert charge.status == AutoTopUpCharge.Status.PENDING
    assert PendingTask.objects.filter(
        task_name="billing.tasks.auto_topup_charge", args=[charge.pk]
    ).exists()
    assert intents.created == []


def test_a_new_crossing_needs_the_balance_back_above_the_threshold(
    topup_account, intents, eager_tasks, django_capture_on_commit_callbacks
):
    intents.outcome = "processing"  # no grant yet: the balance stays below
    spend(topup_account, 1500)
    with django_capture_on_commit_callbacks(execute=True):
        auto_topup_check(account=topup_account)
    spend(topup_account, 200, ref="usage_day:2")
    with django_capture_on_commit_callbacks(execute=True):
        assert auto_topup_check(account=topup_account) is None
    assert len(intents.created) == 1

    credits_record_purchase(account=topup_account, amount_cents=5000, stripe_session_id="cs_2")
    spend(topup_account, 5000, ref="usage_day:3")
    with django_capture_on_commit_callbacks(execute=True):
        assert auto_topup_check(account=topup_account) is not None
    assert len(intents.created) == 2
    assert intents.created[0][0] != intents.created[1][0]


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_crossings_give_one_charge(
    prepaid_account, stripe_env, stripe_http, eager_tasks
):
    intents = PaymentIntentsFake(stripe_http)
    auto_topup_ready(prepaid_account)
    credits_record_purchase(account=prepaid_account, amount_cents=2000, stripe_session_id="cs_s")
    spend(prepaid_account, 1500)

    def check(_: int):
        account = BillingAccount.objects.get(pk=prepaid_account.pk)
        return auto_topup_check(account=account)

    results, errors = run_at_once(check, 20)

    assert errors == []
    assert sum(r is not None for r in results) == 1
    assert AutoTopUpCharge.objects.count() == 1
    assert len(intents.created) == 1
    assert len(granted(prepaid_account)) == 1
    prepaid_account.refresh_from_db()
    assert prepaid_account.balance_cents == 500 + 2500


@pytest.mark.parametrize("outcome", ["error_500", "timeout"])
def test_stripe_down_records_the_attempt_grants_nothing_and_does_not_retry(
    topup_account, intents, eager_tasks, django_capture_on_commit_callbacks, outcome
):
    intents.outcome = outcome
    spend(topup_account, 1500)
    with django_capture_on_commit_callbacks(execute=True):
        auto_topup_check(account=topup_account)
    charge = AutoTopUpCharge.objects.get()
    assert charge.status == AutoTopUpCharge.Status.FAILED
    assert "Stripe" in charge.failure_reason
    assert granted(topup_account) == []
    assert len(mail.outbox) == 1

    intents.outcome = "succeeded"
    spend(topup_account, 100, ref="usage_day:2")
    with django_capture_on_commit_callbacks(execute=True):
        assert auto_topup_check(account=topup_account) is None  # retried only at the next crossing
    assert len(intents.created) == 1
    # Stripe's outage is not the card's fault: it does not count towards turning it off.
    assert AutoTopUp.objects.get().consecutive_failures == 0


def test_no_saved_card_is_a_recorded_failure(
    topup_account, intents, eager_tasks, django_capture_on_commit_callbacks
):
    BillingAccount.objects.filter(pk=topup_account.pk).update(payment_method_id="")
    spend(topup_account, 1500)
    with django_capture_on_commit_callbacks(execute=True):
        auto_topup_check(account=topup_account)
    charge = AutoTopUpCharge.objects.get()
    assert (charge.status, charge.failure_reason) == ("failed", "No saved card to charge.")
    assert intents.created == []


def test_postpaid_accounts_and_accounts_without_it_are_never_topped_up(topup_account, owner):
    AutoTopUp.objects.filter(account=topup_account).update(enabled=False)
    spend(topup_account, 1500)
    assert auto_topup_check(account=topup_account) is None
    assert not auto_topup_is_on(account=topup_account)
    AutoTopUp.objects.filter(account=topup_account).update(enabled=True)
    assert auto_topup_is_on(account=topup_account)
    BillingAccount.objects.filter(pk=topup_account.pk).update(mode="postpaid")
    topup_account.refresh_from_db()
    assert not auto_topup_is_on(account=topup_account)
    assert auto_topup_check(account=topup_account) is None
