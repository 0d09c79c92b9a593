"""PostgreSQL connections killed (pg_terminate_backend) during a storm of Stripe deliveries
and then of their processing: a delivery that dies answers 5xx or breaks and Stripe
redelivers; a processing that dies is run again (the broker's redelivery, the sweeper); every
purchase is credited exactly once."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import connection
from django.test import Client

from billing.models import BillingAccount, CreditPurchase, CreditTransaction
from tests.stripe_fakes import API, checkout_session, post_event, stripe_event
from webhooks.models import WebhookEvent
from webhooks.tasks import process_stripe_event

PURCHASES = 12
THREADS = 6


KILLS = 40
ROUNDS = 30


def killer(stop: threading.Event, spare: int, killed: list[int]) -> None:
    """Terminate one busy backend of the test database every 20 ms, up to KILLS of them."""
    params = connection.get_connection_params()
    dsn = {k: v for k, v in params.items() if k in {"dbname", "user", "host", "port", "password"}}
    with psycopg.connect(**dsn, autocommit=True) as conn:
        while not stop.is_set() and killed[0] < KILLS:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), %s)"
                " AND state <> 'idle' LIMIT 1",
                [spare],
            ).fetchall()
            killed[0] += sum(1 for (done,) in rows if done)
            time.sleep(0.02)


def until_done(attempt) -> int:
    """Run `attempt` until it says done, a killed connection failing any try; the tries."""
    for tries in range(1, 60):
        try:
            if attempt():
                return tries
        except Exception:  # noqa: BLE001 - a killed connection may surface anywhere
            pass
        finally:
            connection.close()
    raise AssertionError("never done")


def deliver_until_acknowledged(event: dict) -> int:
    """Stripe's side: redeliver until a 2xx."""
    client = Client(raise_request_exception=False)
    return until_done(lambda: post_event(client, event, process=False).status_code == 200)


def process_until_done(event: dict) -> int:
    """A worker's side: the task again until the event is processed (a failure recorded on
    the event counts as not done: the sweeper would send it again)."""

    def attempt() -> bool:
        stored = WebhookEvent.objects.get(source="stripe", external_id=event["id"])
        return process_stripe_event.apply(args=[stored.pk]).get() == "processed"

    return until_done(attempt)


def storm(step, events: list[dict], spare: int, killed: list[int]) -> list[BaseException]:
    """`step` for every event, THREADS at a time, while the killer runs; the errors."""
    stop = threading.Event()
    chaos = threading.Thread(target=killer, args=(stop, spare, killed))
    chaos.start()
    errors: list[BaseException] = []

    def worker(mine):
        try:
            # Again (Stripe redelivers, a worker reruns: both harmless) until the killer has
            # hit: the intake is quick enough to finish between two of its looks otherwise.
            for _ in range(ROUNDS):
                for event in mine:
                    step(event)
                if killed[0]:
                    return
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(events[i::THREADS],)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    chaos.join()
    return errors


@pytest.mark.django_db(transaction=True)
def test_every_purchase_is_credited_once_while_connections_are_killed(stripe_http, prepaid_account):
    sessions = [f"cs_storm_{n}" for n in range(PURCHASES)]
    for n, sid in enumerate(sessions):
        CreditPurchase.objects.create(
            account=prepaid_account, amount_cents=1000 + n, stripe_session_id=sid, status="open"
        )
        stripe_http.get(
            f"{API}/v1/checkout/sessions/{sid}",
            json=checkout_session(sid, prepaid_account.pk, amount_total=1000 + n),
        )
    # Each session's event delivered twice, by different threads, as Stripe may.
    events = [
        stripe_event("checkout.session.completed",
                     checkout_session(sid, prepaid_account.pk, amount_total=1000 + n),
                     event_id=f"evt_storm_{n}")
        for n, sid in enumerate(sessions)
    ] * 2
    spare = connection.cursor().connection.info.backend_pid
    errors: list[BaseException] = []
    kills = []
    # Intake first, then processing (each event by two workers at once), each under kills.
    for step in (deliver_until_acknowledged, process_until_done):
        killed = [0]
        errors += storm(step, events, spare, killed)
        kills.append(killed[0])

    assert errors == []
    assert all(kills), kills  # the fault really happened, in both phases
    grants = CreditTransaction.objects.filter(account=prepaid_account, kind="purchase")
    assert sorted(tx.amount_cents for tx in grants) == [1000 + n for n in range(PURCHASES)]
    expected = sum(1000 + n for n in range(PURCHASES))
    assert BillingAccount.objects.get(pk=prepaid_account.pk).balance_cents == expected
    assert WebhookEvent.objects.filter(status="processed").count() == PURCHASES
