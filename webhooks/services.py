"""Stripe webhook pipeline: verify, check, store once, answer; process in a worker.

In the request (answers in milliseconds, as Stripe asks: 2xx before any complex logic):
1. verify the `Stripe-Signature` header on the raw body (Stripe's scheme, 300 s tolerance);
2. parse the JSON and require an event id and type;
3. an event for a customer or checkout session that is not ours is refused (4xx, nothing
   stored; Stripe retries, by which time a racing signup may have stored the customer);
4. store the event once: UNIQUE (source, external id), one INSERT ... ON CONFLICT DO NOTHING
   in its own short transaction; a duplicate stores nothing. Types outside the allow-list are
   stored as ignored. Answer 200;
5. after commit, send the processing task (`webhooks.tasks.process_stripe_event`). A broker
   outage only delays it: the stored row is the record, `stripe_events_sweep` resends.
In a Celery worker (`stripe_event_process`):
6. the handler's Stripe reads first, with no transaction open; then, under the event's row
   lock, the status is checked again and the handler applied once. A handler error is
   recorded on the event (status, error, attempts) and tried again with backoff by the
   sweeper; `stripe_events_replay` reprocesses by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.suspension import suspension_in_force
from billing.budgets.caps import suspension_sync_request
from billing.payments import events as stripe_events
from billing.payments import gateway
from jobs.services import BrokerUnavailable, task_enqueue, task_send
from webhooks.models import WebhookEvent
from webhooks.store import (
    DONE,
    sweep_after,
    webhook_event_ignore,
    webhook_event_run,
    webhook_event_store,
)

SIGNATURE_TOLERANCE_SECONDS = 300
PROCESS_TASK = "webhooks.tasks.process_stripe_event"
SWEEP_BATCH = 500


class WebhookRejected(Exception):
    """Bad input: answered with `status_code`, nothing written."""

    def __init__(self, message: str, status_code: int = 400):
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class Outcome:
    status_code: int
    detail: str
    event_id: str | None = None


# --- pipeline -------------------------------------------------------------------------------


def stripe_event_verify(*, payload: bytes, signature: str | None) -> dict:
    """Steps 1-2: the verified, parsed event, or WebhookRejected."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise WebhookRejected("Stripe webhooks are not configured.", status_code=503)
    if not signature:
        raise WebhookRejected("Missing Stripe-Signature header.")
    try:
        text = payload.decode("utf-8")
        gateway.webhook_signature_verify(
            payload=text, signature=signature, secret=secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
    except (gateway.WebhookSignatureInvalid, UnicodeDecodeError) as exc:
        raise WebhookRejected(f"Invalid signature: {exc}") from exc
    try:
        event = json.loads(text)
    except ValueError as exc:
        raise WebhookRejected("The body is not JSON.") from exc
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        raise WebhookRejected("Not a Stripe event (no id or type).")
    if not isinstance(event.get("data"), dict) or not isinstance(event["data"].get("object"), dict):
        raise WebhookRejected("Not a Stripe event (no data.object).")
    return event


def stripe_event_check_owner(event: dict) -> None:
    """Step 3: handled events must name an account of ours."""
    problem = stripe_events.stripe_event_owner_problem(event)
    if problem:
        raise WebhookRejected(problem)


def stripe_event_accept(*, event: dict) -> WebhookEvent | None:
    """Steps 4-5, the delivery hot path: one INSERT ... ON CONFLICT DO NOTHING (its own short
    transaction) and, for a new handled event, its processing task sent once that commits.
    None for a duplicate: the first delivery stored it and its processing is on its way."""
    handled = stripe_events.stripe_event_handled(event["type"])
    stored = webhook_event_store(
        source=WebhookEvent.Source.STRIPE,
        external_id=event["id"],
        event_type=event["type"],
        payload=event,
        status=WebhookEvent.Status.RECEIVED if handled else WebhookEvent.Status.IGNORED,
    )
    if stored is not None and handled:
        # No PendingTask row: the stored event is the record; the sweeper resends it.
        task_enqueue(PROCESS_TASK, args=[stored.pk], record=False)
    return stored


def stripe_event_process(*, event_id: int) -> WebhookEvent:
    """Step 6, in a worker (or a replay), with no transaction open:
    1. load the event; done already -> nothing to do;
    2. `prepare`: the Stripe reads its handler needs, outside any transaction, so a slow
       Stripe holds no lock (a failure here is recorded like a handler error);
    3. lock the row, check again that it is not done (another worker may have finished it
       meanwhile: exactly once), run the handler on what was read, record the outcome."""
    stored = WebhookEvent.objects.get(pk=event_id)
    if stored.status in DONE:
        return stored
    try:
        prepared = stripe_events.stripe_event_prepare(stored.payload)
    except Exception as exc:  # noqa: BLE001 - recorded on the event below, retried later
        return _locked_run(event_id, partial(_raise, exc))
    return _locked_run(event_id, lambda: _handle(stored.payload, prepared))


def _raise(exc: Exception):
    raise exc


def _locked_run(event_id: int, handler) -> WebhookEvent:
    with transaction.atomic():
        stored = WebhookEvent.objects.select_for_update().get(pk=event_id)
        if not stripe_events.stripe_event_handled(stored.event_type):
            return webhook_event_ignore(stored)
        return webhook_event_run(stored, handler).event


def _handle(event: dict, prepared: dict) -> None:
    stripe_events.stripe_event_handle(event, prepared)
    _suspension_sync_later(event)


def _suspension_sync_later(event: dict) -> None:
    """After a payment event, resume (or suspend) the user now, not at the next sweep."""
    if event["type"] not in stripe_events.SUSPENSION_TRIGGERS:
        return
    user_id = stripe_events.stripe_event_user_id(event)
    if user_id is None:
        return
    only_lifts = event["type"] in stripe_events.PAYMENT_TRIGGERS
    if only_lifts and not suspension_in_force(user_id=user_id):
        return  # nothing stopped, nothing to lift: no task per purchase
    suspension_sync_request(user_id=user_id)  # recorded with the event's outcome


def stripe_event_receive(*, payload: bytes, signature: str | None) -> Outcome:
    """The whole intake for one delivery; the view only turns the outcome into a response."""
    try:
        event = stripe_event_verify(payload=payload, signature=signature)
        stripe_event_check_owner(event)
    except WebhookRejected as exc:
        return Outcome(exc.status_code, str(exc))
    stored = stripe_event_accept(event=event)
    return Outcome(200, stored.status if stored else "duplicate", event["id"])


def stripe_events_sweep(*, now: datetime | None = None) -> int:
    """Beat, every minute: send again each Stripe event that is due (received but not
    processed within WEBHOOK_SWEEP_AFTER_SECONDS: the broker was down or a worker died; or
    failed and due for its next attempt); how many were sent. Rows are claimed with SKIP
    LOCKED (a worker processing one holds its lock), so two sweeps at once send each once;
    a sent row is due again only after another WEBHOOK_SWEEP_AFTER_SECONDS. Sending twice is
    harmless: the worker checks the status under the row lock. The first broker failure
    stops the sweep (the next one retries)."""
    now = now or timezone.now()
    sent = 0
    with transaction.atomic():
        due = (
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(
                source=WebhookEvent.Source.STRIPE,
                status__in=[WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED],
                next_attempt_at__lte=now,
            )
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        for pk in list(due):
            try:
                task_send(PROCESS_TASK, args=[pk])
            except BrokerUnavailable:
                break
            WebhookEvent.objects.filter(pk=pk).update(next_attempt_at=now + sweep_after())
            sent += 1
    return sent


def stripe_events_replay(*, failed_only: bool = False) -> list[WebhookEvent]:
    """Reprocess, here and now, stored Stripe events that did not complete: failed ones, and
    ones stored but not processed yet. Processed events are not run again, so a replay cannot
    repeat a notice email."""
    pending = [WebhookEvent.Status.FAILED] + ([] if failed_only else [WebhookEvent.Status.RECEIVED])
    ids = list(
        WebhookEvent.objects.filter(source=WebhookEvent.Source.STRIPE, status__in=pending)
        .order_by("received_at", "id")
        .values_list("pk", flat=True)
    )
    return [stripe_event_process(event_id=pk) for pk in ids]
