"""payment_intent.* webhooks of auto top-ups: a success grants once however often it is
delivered; a decline or 3-D Secure notifies once and grants nothing; three failures in a row
turn auto top-up off with a banner."""

from __future__ import annotations

import pytest
from django.core import mail

from billing.budgets.auto_topup import auto_topup_check
from billing.ledger import credits_deduct_usage, credits_record_purchase
from billing.models import AutoTopUp, AutoTopUpCharge, CreditTransaction
from jobs.models import PendingTask
from tests.billing.auto_topup_data import CUSTOMER, auto_topup_ready
from tests.html import text_of
from tests.stripe_fakes import PaymentIntentsFake, payment_intent, post_event, stripe_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(prepaid_account, stripe_env):
    return auto_topup_ready(prepaid_account)


@pytest.fixture
def intents(stripe_http):
    return PaymentIntentsFake(stripe_http, outcome="processing")


def cross(account, n: int, capture) -> AutoTopUpCharge:
    """Crossing number n: credits above the threshold, then usage below it; the charge runs."""
    credits_record_purchase(account=account, amount_cents=2000, stripe_session_id=f"cs_{n}")
    credits_deduct_usage(account=account, usage_ref=f"usage_day:{n}", cost_cents=2000)
    with capture(execute=True):
        charge = auto_topup_check(account=account)
    charge.refresh_from_db()
    return charge


def intent_event(charge: AutoTopUpCharge, kind: str, n: int = 1, **overrides) -> dict:
    intent = payment_intent(
        charge.stripe_payment_intent_id or f"pi_auto{charge.pk}",
        customer=CUSTOMER,
        amount=charge.amount_cents,
        metadata={"hopsbill_auto_topup_id": str(charge.pk)},
        **overrides,
    )
    return stripe_event(kind, intent, event_id=f"evt_{kind}_{charge.pk}_{n}")


DECLINED = {
    "status": "requires_payment_method",
    "last_payment_error": {"code": "card_declined", "message": "Your card was declined."},
}


def topups_granted(account) -> list[CreditTransaction]:
    return list(CreditTransaction.objects.filter(account=account, source_ref__startswith="payment"))


def test_payment_intent_succeeded_delivered_five_times_grants_once(
    client, account, intents, eager_tasks, django_capture_on_commit_callbacks
):
    charge = cross(account, 1, django_capture_on_commit_callbacks)
    assert charge.status == AutoTopUpCharge.Status.PROCESSING
    event = intent_event(charge, "payment_intent.succeeded")

    answers = [post_event(client, event).status_code for _ in range(5)]
    again = intent_event(charge, "payment_intent.succeeded", n=2)  # a second event, same intent
    answers.append(post_event(client, again).status_code)

    assert answers == [200] * 6
    assert len(topups_granted(account)) == 1
    account.refresh_from_db()
    assert account.balance_cents == 0 + 2500
    charge.refresh_from_db()
    assert (charge.status, charge.transaction.amount_cents) == ("succeeded", 2500)


def test_three_d_secure_on_create_notifies_once_and_grants_nothing(
    client, account, intents, eager_tasks, django_capture_on_commit_callbacks
):
    intents.outcome = "authentication_required"
    charge = cross(account, 1, django_capture_on_commit_callbacks)
    assert charge.status == AutoTopUpCharge.Status.REQUIRES_ACTION
    assert charge.stripe_payment_intent_id == "pi_auto1"
    assert len(mail.outbox) == 1
    assert "requires authentication" in mail.outbox[0].body

    # Stripe follows up with payment_intent.payment_failed for the same intent.
    failed = intent_event(
        charge,
        "payment_intent.payment_failed",
        status="requires_payment_method",
        last_payment_error={"code": "authentication_required", "message": "Authenticate."},
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(client, failed).status_code == 200
    assert len(mail.outbox) == 1
    assert topups_granted(account) == []
    assert AutoTopUp.objects.get().consecutive_failures == 1


def test_requires_action_by_webhook_notifies_and_grants_nothing(
    client, account, intents, eager_tasks, django_capture_on_commit_callbacks
):
    charge = cross(account, 1, django_capture_on_commit_callbacks)
    event = intent_event(
        charge, "payment_intent.requires_action", status="requires_action", amount_received=0
    )
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            assert post_event(client, event).status_code == 200
    charge.refresh_from_db()
    assert charge.status == AutoTopUpCharge.Status.REQUIRES_ACTION
    assert len(mail.outbox) == 1
    assert topups_granted(account) == []


def test_three_failures_in_a_row_turn_it_off_with_a_banner(
    client, account, intents, eager_tasks, django_capture_on_commit_callbacks
):
    for n in (1, 2, 3):
        charge = cross(account, n, django_capture_on_commit_callbacks)
        with django_capture_on_commit_callbacks(execute=True):
            post_event(client, intent_event(charge, "payment_intent.payment_failed", **DECLINED))

    row = AutoTopUp.objects.get()
    assert (row.enabled, row.consecutive_failures) == (False, 3)
    assert len(mail.outbox) == 3
    assert "turned itself off" in mail.outbox[-1].body
    client.force_login(account.user)
    html = client.get("/billing/").content.decode()
    assert "turned itself off after 3 failed payments" in text_of(html, "auto-topup-off")
    assert "Failed (Your card was declined.)" in text_of(html, "auto-topup-last")
    credits_deduct_usage(account=account, usage_ref="usage_day:4", cost_cents=100)
    with django_capture_on_commit_callbacks(execute=True):
        assert auto_topup_check(account=account) is None  # off: no more charges

    assert (
        client.put(
            "/api/billing/auto-topup",
            data={"enabled": True, "threshold": "10", "amount": "25"},
            content_type="application/json",
        ).json()["disabled_reason"]
        == ""
    )


def test_a_success_resets_the_failure_count(
    client, account, intents, eager_tasks, django_capture_on_commit_callbacks
):
    for n in (1, 2):
        charge = cross(account, n, django_capture_on_commit_callbacks)
        with django_capture_on_commit_callbacks(execute=True):
            post_event(client, intent_event(charge, "payment_intent.payment_failed", **DECLINED))
    assert AutoTopUp.objects.get().consecutive_failures == 2
    charge = cross(account, 3, django_capture_on_commit_callbacks)
    post_event(client, intent_event(charge, "payment_intent.succeeded"))
    row = AutoTopUp.objects.get()
    assert (row.enabled, row.consecutive_failures) == (True, 0)


def test_a_late_failure_cannot_undo_a_grant(
    client, account, intents, eager_tasks, django_capture_on_commit_callbacks
):
    charge = cross(account, 1, django_capture_on_commit_callbacks)
    post_event(client, intent_event(charge, "payment_intent.succeeded"))
    post_event(client, intent_event(charge, "payment_intent.payment_failed", **DECLINED))
    charge.refresh_from_db()
    assert charge.status == AutoTopUpCharge.Status.SUCCEEDED
    assert len(topups_granted(account)) == 1 and mail.outbox == []


def test_a_checkout_purchases_payment_intent_is_acknowledged_and_ignored(client, account, outsider):
    intent = payment_intent("pi_checkout", customer=None, amount=2500)
    event = stripe_event("payment_intent.succeeded", intent, event_id="evt_checkout_pi")
    assert post_event(client, event).status_code == 200
    assert topups_granted(account) == []
    # A guest's payment names nobody: no one's suspension is re-evaluated for it.
    assert not PendingTask.objects.filter(task_name="accounts.tasks.suspension_sync_user").exists()


def test_a_top_up_id_of_another_customer_is_refused(
    client, account, intents, eager_tasks, django_capture_on_commit_callbacks
):
    charge = cross(account, 1, django_capture_on_commit_callbacks)
    event = intent_event(charge, "payment_intent.succeeded")
    event["data"]["object"]["customer"] = "cus_someone_else"
    assert post_event(client, event).status_code == 400
    assert topups_granted(account) == []
