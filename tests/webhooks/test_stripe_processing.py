"""Processing stored Stripe events off the request path: a worker per event, exactly once
however many run it at once, the sweeper safe to run twice at once, and the queue shown to
staff."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from accounts.models import SuspensionKind, SuspensionRun
from billing.models import CreditPurchase, CreditTransaction
from jobs.models import PendingTask
from tests.concurrency import run_at_once
from tests.html import text_of
from tests.stripe_fakes import API, checkout_session, post_event, stripe_event
from webhooks.models import WebhookEvent
from webhooks.services import stripe_events_sweep
from webhooks.tasks import process_stripe_event

PROCESS = "webhooks.tasks.process_stripe_event"
SUSPENSION_SYNC = "accounts.tasks.suspension_sync_user"


def delivered(stripe_http, account, n: int) -> WebhookEvent:
    session_id = f"cs_proc_{n}"
    CreditPurchase.objects.create(
        account=account, amount_cents=1000 + n, stripe_session_id=session_id, status="open"
    )
    session = checkout_session(session_id, account.pk, amount_total=1000 + n)
    stripe_http.get(f"{API}/v1/checkout/sessions/{session_id}", json=session)
    event = stripe_event("checkout.session.completed", session, event_id=f"evt_proc_{n}")
    response = post_event(Client(), event, process=False)
    assert response.json() == {"detail": "received", "event": f"evt_proc_{n}"}
    return WebhookEvent.objects.get(external_id=f"evt_proc_{n}")


@pytest.mark.django_db
def test_a_delivery_is_stored_and_answered_and_its_task_queued_after_commit(
    stripe_http, prepaid_account, broker_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stored = delivered(stripe_http, prepaid_account, 1)
    assert (stored.status, stored.attempts) == ("received", 0)
    assert not CreditTransaction.objects.exists()
    assert [(m.task, m.args) for m in broker_queue.messages()] == [(PROCESS, [stored.pk])]

    assert process_stripe_event.apply(args=[stored.pk]).get() == "processed"
    assert [tx.amount_cents for tx in CreditTransaction.objects.all()] == [1001]


@pytest.mark.django_db(transaction=True)
def test_one_event_run_by_six_workers_at_once_is_applied_once(stripe_http, prepaid_account):
    stored = delivered(stripe_http, prepaid_account, 2)

    results, errors = run_at_once(
        lambda i: process_stripe_event.apply(args=[stored.pk]).get(), 6
    )

    assert errors == [] and results == ["processed"] * 6
    assert [tx.amount_cents for tx in CreditTransaction.objects.all()] == [1002]
    stored.refresh_from_db()
    assert (stored.status, stored.attempts) == ("processed", 1)


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_due_event_once(stripe_http, prepaid_account, broker_queue):
    events = [delivered(stripe_http, prepaid_account, n) for n in range(10, 16)]
    broker_queue.clear()  # the intake's own sends: lost, as if the broker had been down
    due = max(e.next_attempt_at for e in events) + timedelta(seconds=1)

    results, errors = run_at_once(lambda i: stripe_events_sweep(now=due), 2)

    assert errors == [] and sum(results) == 6
    assert sorted(m.args[0] for m in broker_queue.messages()) == sorted(e.pk for e in events)


@pytest.mark.django_db
def test_staff_see_the_queue_depth_and_the_oldest_age_above_the_event_list(client, staff):
    for n, status in enumerate(["received", "received", "failed", "processed"]):
        WebhookEvent.objects.create(
            source="stripe", external_id=f"evt_q{n}", event_type="invoice.paid", payload={},
            status=status,
        )
    client.force_login(staff)
    page = client.get("/admin/webhooks/webhookevent/").content.decode()
    assert text_of(page, "queue-depth") == "2"
    assert text_of(page, "queue-oldest") == "0 s ago"
    assert text_of(page, "queue-failed") == "1"


@pytest.mark.django_db
def test_a_purchase_queues_a_suspension_check_only_while_work_is_stopped(
    stripe_http, prepaid_account
):
    first = delivered(stripe_http, prepaid_account, 7)
    process_stripe_event.apply(args=[first.pk]).get()
    assert not PendingTask.objects.filter(task_name=SUSPENSION_SYNC).exists()

    SuspensionRun.objects.create(
        user=prepaid_account.user, kind=SuspensionKind.SUSPEND, cause="prepaid_arrears"
    )
    second = delivered(stripe_http, prepaid_account, 8)
    process_stripe_event.apply(args=[second.pk]).get()
    assert PendingTask.objects.filter(task_name=SUSPENSION_SYNC).count() == 1
