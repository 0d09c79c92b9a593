"""POST /api/webhooks/stripe: signature, storage once, dispatch, and what the handlers do."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import responses
from django.core import mail
from django.utils import timezone

from billing.models import AccountStatus, BillingAccount, CreditPurchase, CreditTransaction
from tests.stripe_fakes import (
    API,
    checkout_session,
    post_event,
    sign,
    stripe_event,
    stripe_object,
    worker_process,
)
from webhooks.models import WebhookEvent
from webhooks.services import stripe_events_replay, stripe_events_sweep

pytestmark = pytest.mark.django_db

SESSION = "cs_test_webhook_1"


@pytest.fixture
def open_purchase(prepaid_account):
    return CreditPurchase.objects.create(
        account=prepaid_account,
        amount_cents=2500,
        stripe_session_id=SESSION,
        status=CreditPurchase.Status.OPEN,
    )


def session_answer(stripe_http, account, **overrides):
    return stripe_http.get(
        f"{API}/v1/checkout/sessions/{SESSION}",
        json=checkout_session(SESSION, account.pk, **overrides),
    )


def completed(account, event_id="evt_completed_1", kind="checkout.session.completed", **kw):
    return stripe_event(kind, checkout_session(SESSION, account.pk, **kw), event_id=event_id)


def purchases_posted(account) -> list[CreditTransaction]:
    return list(CreditTransaction.objects.filter(account=account, kind="purchase"))


def test_the_same_event_delivered_five_times_grants_the_credits_once(
    client, stripe_http, open_purchase
):
    account = open_purchase.account
    session_answer(stripe_http, account)
    event = completed(account)
    answers = [post_event(client, event).status_code for _ in range(5)]

    assert answers == [200] * 5
    assert [tx.amount_cents for tx in purchases_posted(account)] == [2500]
    assert BillingAccount.objects.get(pk=account.pk).balance_cents == 2500
    open_purchase.refresh_from_db()
    assert open_purchase.status == CreditPurchase.Status.PAID
    assert open_purchase.amount_paid_cents == 2500
    stored = WebhookEvent.objects.get()
    assert (stored.status, stored.attempts) == ("processed", 1)


def test_completed_after_async_payment_succeeded_does_not_grant_twice(
    client, stripe_http, open_purchase
):
    account = open_purchase.account
    session_answer(stripe_http, account)
    succeeded = completed(
        account, event_id="evt_async_ok", kind="checkout.session.async_payment_succeeded"
    )
    assert post_event(client, succeeded).status_code == 200
    late_completed = completed(account, event_id="evt_completed_late", payment_status="unpaid")
    assert post_event(client, late_completed).status_code == 200

    assert [tx.amount_cents for tx in purchases_posted(account)] == [2500]
    assert WebhookEvent.objects.filter(status="processed").count() == 2


def test_an_unpaid_completed_session_grants_nothing_until_the_async_payment_succeeds(
    client, stripe_http, open_purchase
):
    account = open_purchase.account
    with responses.RequestsMock() as rsps:
        rsps.get(
            f"{API}/v1/checkout/sessions/{SESSION}",
            json=checkout_session(SESSION, account.pk, payment_status="unpaid"),
        )
        assert post_event(client, completed(account, payment_status="unpaid")).status_code == 200
    assert purchases_posted(account) == []
    assert CreditPurchase.objects.get().status == CreditPurchase.Status.OPEN

    session_answer(stripe_http, account)
    event = completed(account, event_id="evt_ok", kind="checkout.session.async_payment_succeeded")
    assert post_event(client, event).status_code == 200
    assert [tx.amount_cents for tx in purchases_posted(account)] == [2500]


def test_it_grants_the_amount_actually_paid(client, stripe_http, open_purchase):
    account = open_purchase.account
    session_answer(stripe_http, account, amount_total=2000)  # e.g. a promotion code applied
    assert post_event(client, completed(account)).status_code == 200
    assert [tx.amount_cents for tx in purchases_posted(account)] == [2000]
    assert CreditPurchase.objects.get().amount_paid_cents == 2000


def test_async_payment_failed_marks_the_purchase_failed_and_grants_nothing(
    client, stripe_http, open_purchase
):
    account = open_purchase.account
    event = completed(account, event_id="evt_fail", kind="checkout.session.async_payment_failed")
    assert post_event(client, event).status_code == 200
    purchase = CreditPurchase.objects.get()
    assert purchase.status == CreditPurchase.Status.FAILED
    assert purchases_posted(account) == []


def test_a_late_failure_event_cannot_undo_a_paid_purchase(client, stripe_http, open_purchase):
    account = open_purchase.account
    session_answer(stripe_http, account)
    assert post_event(client, completed(account)).status_code == 200
    event = completed(account, event_id="evt_fail", kind="checkout.session.async_payment_failed")
    assert post_event(client, event).status_code == 200
    assert CreditPurchase.objects.get().status == CreditPurchase.Status.PAID
    assert BillingAccount.objects.get(pk=account.pk).balance_cents == 2500


def test_a_handler_error_is_recorded_and_the_sweeper_retries_it_with_backoff(
    client, stripe_http, open_purchase, broker_queue
):
    account = open_purchase.account
    with responses.RequestsMock() as rsps:
        rsps.get(f"{API}/v1/checkout/sessions/{SESSION}", status=500, json={"error": {}})
        response = post_event(client, completed(account))
    assert response.status_code == 200  # stored: Stripe need not deliver again
    stored = WebhookEvent.objects.get()
    assert (stored.status, stored.attempts) == ("failed", 1)
    assert "StripeUnavailable" in stored.error
    assert timedelta(seconds=50) < stored.next_attempt_at - stored.processed_at <= timedelta(
        minutes=1
    )
    assert purchases_posted(account) == []
    assert post_event(client, completed(account)).json()["detail"] == "duplicate"

    assert stripe_events_sweep(now=stored.processed_at + timedelta(seconds=30)) == 0  # not due
    assert stripe_events_sweep(now=stored.next_attempt_at) == 1
    assert [(m.task, m.args) for m in broker_queue.messages()] == [
        ("webhooks.tasks.process_stripe_event", [stored.pk])
    ]
    session_answer(stripe_http, account)
    worker_process(stored.external_id)
    stored.refresh_from_db()
    assert (stored.status, stored.error, stored.attempts) == ("processed", "", 2)
    assert stored.next_attempt_at is None
    assert [tx.amount_cents for tx in purchases_posted(account)] == [2500]


def test_the_backoff_doubles_and_stops_after_the_last_attempt(settings):
    from webhooks.store import retry_at

    settings.WEBHOOK_MAX_ATTEMPTS = 4
    now = timezone.now()
    waits = [retry_at(attempts=n, now=now) for n in range(1, 5)]
    assert [w - now for w in waits[:3]] == [timedelta(minutes=m) for m in (1, 2, 4)]
    assert waits[3] is None


def test_replay_failed_reprocesses_stored_events(client, stripe_http, open_purchase):
    account = open_purchase.account
    with responses.RequestsMock() as rsps:
        rsps.get(f"{API}/v1/checkout/sessions/{SESSION}", status=429, json={"error": {}})
        assert post_event(client, completed(account)).status_code == 200
    assert WebhookEvent.objects.get().status == "failed"
    session_answer(stripe_http, account)
    replayed = stripe_events_replay(failed_only=True)
    assert [e.status for e in replayed] == ["processed"]
    assert [tx.amount_cents for tx in purchases_posted(account)] == [2500]
    assert stripe_events_replay(failed_only=True) == []


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "t=1,v1=00",
        "garbage",
        "forged",
        "stale",
        "non-ascii",
        "t=²,v1=00",
        "t=abc,v1=00",
        "t=1,v1=00,v1=é",
    ],
)
def test_missing_forged_or_stale_signatures_are_refused_and_nothing_is_written(
    client, stripe_http, open_purchase, signature
):
    body = json.dumps(completed(open_purchase.account)).encode()
    if signature == "forged":
        signature = sign(body, secret="whsec_someone_else")
    elif signature == "stale":
        signature = sign(body, timestamp=int(time.time()) - 301)
    elif signature == "non-ascii":  # a fresh timestamp, so the digests are compared
        signature = f"t={int(time.time())},v1=²²"
    headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature else {}
    response = client.post(
        "/api/webhooks/stripe", data=body, content_type="application/json", **headers
    )
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
    assert purchases_posted(open_purchase.account) == []


def post_signed(client, body: bytes):
    """A raw body, correctly signed, whatever it holds."""
    return client.post(
        "/api/webhooks/stripe",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body),
    )


def test_a_signed_body_that_is_not_json_is_refused(client, stripe_env):
    response = post_signed(client, b"this is not json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]
    assert WebhookEvent.objects.count() == 0


def test_without_a_webhook_secret_the_endpoint_says_it_is_not_configured(client, stripe_env):
    stripe_env.STRIPE_WEBHOOK_SECRET = ""
    assert post_signed(client, b"{}").status_code == 503


def test_an_event_for_an_unknown_customer_is_refused_and_nothing_is_written(
    client, stripe_env, owner
):
    invoice = stripe_object("invoice", customer="cus_nobody_we_know", status="paid")
    response = post_event(client, stripe_event("invoice.paid", invoice, event_id="evt_unknown"))
    assert response.status_code == 400
    assert "Unknown Stripe customer" in response.json()["detail"]
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize("account_id", [999999, "²", "1²", "9" * 30])
def test_a_checkout_session_that_names_no_account_of_ours_is_refused(
    client, stripe_env, owner, account_id
):
    session = checkout_session("cs_other", account_id)
    response = post_event(
        client, stripe_event("checkout.session.completed", session, event_id="evt_x")
    )
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_unknown_event_types_are_stored_and_acknowledged(client, stripe_env):
    event = stripe_object("event", id="evt_plan", created=int(time.time()))
    response = post_event(client, event)
    assert response.status_code == 200
    stored = WebhookEvent.objects.get()
    assert (stored.event_type, stored.status) == ("plan.created", "ignored")


@pytest.fixture
def postpaid(owner):
    account = owner.billing_account
    account.stripe_customer_id = "cus_QXg1o8vcGmoR32"
    account.stripe_subscription_id = "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"
    account.save()
    return account


def invoice_event(kind, event_id, created):
    invoice = stripe_object("invoice", customer="cus_QXg1o8vcGmoR32", number="HB-0001")
    return stripe_event(kind, invoice, event_id=event_id, created=created)


def test_a_failed_invoice_payment_puts_the_account_in_arrears_and_tells_the_user(
    client, stripe_env, postpaid, django_capture_on_commit_callbacks
):
    now = int(time.time())
    with django_capture_on_commit_callbacks(execute=True):
        response = post_event(client, invoice_event("invoice.payment_failed", "evt_f", now))
    assert response.status_code == 200
    postpaid.refresh_from_db()
    assert postpaid.status == AccountStatus.IN_ARREARS
    assert [m.to for m in mail.outbox] == [["owner@example.com"]]
    assert "Payment failed" in mail.outbox[0].subject

    with django_capture_on_commit_callbacks(execute=True):
        response = post_event(client, invoice_event("invoice.paid", "evt_p", now + 5))
    assert response.status_code == 200
    postpaid.refresh_from_db()
    assert postpaid.status == AccountStatus.ACTIVE
    assert "is paid" in mail.outbox[1].subject


def test_an_older_failure_arriving_after_the_payment_does_not_put_the_account_in_arrears(
    client, stripe_env, postpaid
):
    now = int(time.time())
    assert post_event(client, invoice_event("invoice.paid", "evt_p", now)).status_code == 200
    older = invoice_event("invoice.payment_failed", "evt_f", now - 60)
    assert post_event(client, older).status_code == 200
    postpaid.refresh_from_db()
    assert postpaid.status == AccountStatus.ACTIVE


def test_subscription_updates_and_deletion_drive_the_postpaid_account_status(
    client, stripe_env, postpaid
):
    now = int(time.time())
    sub = stripe_object("subscription", status="past_due")
    event = stripe_event("customer.subscription.updated", sub, event_id="evt_s1", created=now)
    assert post_event(client, event).status_code == 200
    postpaid.refresh_from_db()
    assert postpaid.status == AccountStatus.IN_ARREARS

    sub = stripe_object("subscription", status="active")
    event = stripe_event("customer.subscription.updated", sub, event_id="evt_s2", created=now + 1)
    assert post_event(client, event).status_code == 200
    postpaid.refresh_from_db()
    assert postpaid.status == AccountStatus.ACTIVE

    sub = stripe_object("subscription", status="canceled")
    event = stripe_event("customer.subscription.deleted", sub, event_id="evt_s3", created=now + 2)
    assert post_event(client, event).status_code == 200
    postpaid.refresh_from_db()
    assert (postpaid.status, postpaid.stripe_subscription_id) == (AccountStatus.SUSPENDED, "")


def test_an_expired_session_marks_the_purchase_expired(client, stripe_http, open_purchase):
    event = completed(open_purchase.account, event_id="evt_exp", kind="checkout.session.expired")
    assert post_event(client, event).status_code == 200
    assert CreditPurchase.objects.get().status == CreditPurchase.Status.EXPIRED
