"""Stripe webhook intake off the request path, under real faults: the broker down while events
arrive, a worker's connection killed in the middle of processing, and a Stripe that takes 5 s
to answer. Each time every stored event is processed, and credited, exactly once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from billing.models import BillingAccount, CreditPurchase, CreditTransaction
from tests.browser.fake_stripe import FakeStripe
from tests.fakes.broker import broker_outage
from tests.stripe_fakes import API, checkout_session, post_event, stripe_event, worker_process
from webhooks.models import WebhookEvent
from webhooks.services import stripe_events_sweep
from webhooks.tasks import process_stripe_event

PROCESS = "webhooks.tasks.process_stripe_event"


def purchase_event(account, session_id: str, event_id: str, amount: int = 2500) -> dict:
    CreditPurchase.objects.create(
        account=account, amount_cents=amount, stripe_session_id=session_id, status="open"
    )
    session = checkout_session(session_id, account.pk, amount_total=amount)
    return stripe_event("checkout.session.completed", session, event_id=event_id)


def grants(account) -> list[int]:
    rows = CreditTransaction.objects.filter(account=account, kind="purchase")
    return sorted(tx.amount_cents for tx in rows)


def own_connection() -> psycopg.Connection:
    """A second connection to the test database, for watching and killing."""
    params = connection.get_connection_params()
    dsn = {k: v for k, v in params.items() if k in {"dbname", "user", "host", "port", "password"}}
    return psycopg.connect(**dsn, autocommit=True)


def later(stored: WebhookEvent):
    return stored.next_attempt_at + timedelta(seconds=1)


@pytest.mark.django_db
def test_broker_down_during_intake_the_event_is_stored_answered_and_swept_once_it_is_back(
    stripe_http, prepaid_account, broker_queue, django_capture_on_commit_callbacks
):
    event = purchase_event(prepaid_account, "cs_broker_down", "evt_broker_down")
    stripe_http.get(
        f"{API}/v1/checkout/sessions/cs_broker_down",
        json=checkout_session("cs_broker_down", prepaid_account.pk),
    )
    with broker_outage(), django_capture_on_commit_callbacks(execute=True):
        started = time.monotonic()
        response = post_event(Client(), event, process=False)
        elapsed = time.monotonic() - started
    assert (response.status_code, response.json()["detail"]) == (200, "received")
    assert elapsed < 1.5
    stored = WebhookEvent.objects.get()
    assert stored.status == "received" and broker_queue.messages() == []

    assert stripe_events_sweep(now=stored.received_at) == 0  # not due: it may be on its way
    with broker_outage():
        assert stripe_events_sweep(now=later(stored)) == 0  # still down: kept due
    assert stripe_events_sweep(now=later(stored)) == 1
    assert stripe_events_sweep(now=later(stored)) == 0  # sent: not due again yet
    assert [(m.task, m.args) for m in broker_queue.messages()] == [(PROCESS, [stored.pk])]

    assert worker_process("evt_broker_down") == "processed"
    assert grants(prepaid_account) == [2500]
    assert WebhookEvent.objects.get().next_attempt_at is None
    assert stripe_events_sweep(now=later(stored) + timedelta(hours=1)) == 0


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_processing_leaves_the_event_to_the_sweeper_which_credits_it_once(
    stripe_http, prepaid_account, broker_queue
):
    event = purchase_event(prepaid_account, "cs_killed", "evt_killed")
    stripe_http.get(
        f"{API}/v1/checkout/sessions/cs_killed",
        json=checkout_session("cs_killed", prepaid_account.pk),
    )
    assert post_event(Client(), event, process=False).status_code == 200
    stored = WebhookEvent.objects.get()
    broker_queue.clear()  # the message the worker below took
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            process_stripe_event.apply(args=[stored.pk], throw=True)
        except BaseException as exc:  # noqa: BLE001 - the kill, checked below
            failures.append(exc)
        finally:
            connection.close()

    with own_connection() as holder, own_connection() as killer:
        # Hold the purchase row: the worker, inside its processing transaction with the
        # event row locked, waits for it; then its backend is killed (a worker that dies).
        holder.execute("BEGIN")
        holder.execute(
            "SELECT 1 FROM billing_creditpurchase WHERE stripe_session_id = 'cs_killed'"
            " FOR UPDATE"
        )
        thread = threading.Thread(target=worker)
        thread.start()
        killer.execute("SELECT pg_terminate_backend(%s)", [wait_for_lock_waiter(killer)])
        thread.join(timeout=30)
        holder.execute("ROLLBACK")

    assert failures, "the worker should have lost its connection"
    stored.refresh_from_db()
    assert (stored.status, stored.attempts) == ("received", 0)  # rolled back with the worker
    assert grants(prepaid_account) == []

    assert stripe_events_sweep(now=later(stored)) == 1
    assert [(m.task, m.args) for m in broker_queue.messages()] == [(PROCESS, [stored.pk])]
    assert worker_process("evt_killed") == "processed"
    assert worker_process("evt_killed") == "processed"  # the message again: nothing more
    assert grants(prepaid_account) == [2500]
    assert BillingAccount.objects.get(pk=prepaid_account.pk).balance_cents == 2500
    stored.refresh_from_db()
    assert (stored.status, stored.attempts) == ("processed", 1)


def wait_for_lock_waiter(watcher: psycopg.Connection) -> int:
    for _ in range(200):
        row = watcher.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        ).fetchone()
        if row:
            return row[0]
        time.sleep(0.05)
    raise AssertionError("the worker never waited for the purchase row")


# --- a slow Stripe ----------------------------------------------------------------------------

SLOW_SECONDS = 5


@pytest.fixture
def slow_stripe(stripe_env, prepaid_account):
    """The browser tests' loopback Stripe, paid session `cs_slow`, answering after 5 s."""
    with FakeStripe() as fake:
        fake.sessions["cs_slow"] = {
            "line_items[0][price_data][unit_amount]": "2500",
            "client_reference_id": str(prepaid_account.pk),
            "metadata[hopsbill_account_id]": str(prepaid_account.pk),
        }
        fake.paid.add("cs_slow")
        fake.retrieve_delay_seconds = SLOW_SECONDS
        stripe_env.STRIPE_API_BASE = fake.url
        yield fake


@pytest.mark.django_db(transaction=True)
def test_a_slow_stripe_keeps_intake_fast_and_holds_no_transaction_open(
    slow_stripe, prepaid_account
):
    event = purchase_event(prepaid_account, "cs_slow", "evt_slow")
    started = time.monotonic()
    response = post_event(Client(), event, process=False)
    assert response.status_code == 200
    assert time.monotonic() - started < 1.0
    stored = WebhookEvent.objects.get()

    results: list = []

    def worker() -> None:
        try:
            results.append(process_stripe_event.apply(args=[stored.pk], throw=True).get())
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    assert slow_stripe.retrieve_arrived.wait(10), "the worker never asked Stripe"
    with own_connection() as watcher:
        time.sleep(0.5)  # well inside the 5 s
        open_transactions = watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()"
        ).fetchone()[0]
        # The rows the processing will write are free: nobody holds them.
        watcher.execute("SET lock_timeout = '100ms'")
        watcher.execute("BEGIN")
        watcher.execute(
            "SELECT 1 FROM webhooks_webhookevent WHERE id = %s FOR UPDATE NOWAIT", [stored.pk]
        )
        watcher.execute(
            "SELECT 1 FROM billing_creditpurchase WHERE stripe_session_id = 'cs_slow'"
            " FOR UPDATE NOWAIT"
        )
        watcher.execute("ROLLBACK")
    assert open_transactions == 0
    thread.join(timeout=SLOW_SECONDS + 10)

    assert results == ["processed"]
    assert grants(prepaid_account) == [2500]
    assert timezone.now() - stored.received_at >= timedelta(seconds=SLOW_SECONDS)
