"""Stripe webhook pipeline: verify, check, store once, dispatch, record.

1. verify the `Stripe-Signature` header on the raw body (Stripe's scheme, 300 s tolerance);
2. parse the JSON and require an event id and type;
3. an event for a customer or checkout session that is not ours is refused (4xx, nothing
   stored; Stripe retries, by which time a racing signup may have stored the customer);
4. store the event once: UNIQUE (source, external id), so duplicates find the stored row;
5. types outside the allow-list are stored as ignored and acknowledged;
6. process under a row lock on the stored event: a duplicate delivered at the same moment
   waits, then finds it processed. A delivery stores and processes in one transaction
   (`stripe_event_accept`); a crash in between stores nothing and answers no 2xx, so Stripe
   redelivers. A handler error is recorded on the event (status, error,
   attempts) and answers 500 so Stripe retries; `stripe_events_replay` reprocesses.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billing.payments import events as stripe_events
from billing.payments import gateway
from jobs.services import task_enqueue
from webhooks.models import WebhookEvent

logger = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_SECONDS = 300
DONE = {WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED}


class WebhookRejected(Exception):
    """Bad input: answered with `status_code`, nothing written."""

    def __init__(self, message: str, status_code: int = 400):
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class Outcome:
    status_code: int
    detail: str
    event: WebhookEvent | None = None


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


def stripe_event_process(*, event_id: int) -> WebhookEvent:
    """Step 6: run the handler once under the event's row lock; record the outcome."""
    with transaction.atomic():
        return _run_locked(WebhookEvent.objects.select_for_update().get(pk=event_id))


def stripe_event_accept(*, event: dict) -> WebhookEvent:
    """Steps 4-6 in one transaction, the delivery hot path. The first delivery inserts the row
    (INSERT ... ON CONFLICT DO NOTHING) and so holds its lock until commit: a concurrent
    duplicate's insert waits on the unique index, then finds the row and locks it, by which
    time it is processed. A handler error is kept by the savepoint in `_run_locked` and the
    row commits as failed."""
    status = (
        WebhookEvent.Status.RECEIVED
        if stripe_events.stripe_event_handled(event["type"])
        else WebhookEvent.Status.IGNORED
    )
    now = timezone.now()
    with transaction.atomic():
        pk = _insert_new(event, status, now)
        if pk is None:  # delivered before, or by a concurrent delivery: wait for its lock
            stored = WebhookEvent.objects.select_for_update().get(
                source=WebhookEvent.Source.STRIPE, external_id=event["id"]
            )
        else:
            stored = WebhookEvent(
                pk=pk,
                source=WebhookEvent.Source.STRIPE,
                external_id=event["id"],
                event_type=event["type"],
                payload=event,
                status=status,
                received_at=now,
            )
        return _run_locked(stored)


def _insert_new(event: dict, status: str, now) -> int | None:
    """The new row's id, or None when (source, external id) is stored already. Written as SQL:
    the ORM has no ON CONFLICT DO NOTHING that returns the id."""
    table = WebhookEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (source, external_id, event_type, payload, status, error,"
            " attempts, received_at) VALUES (%s, %s, %s, %s, %s, '', 0, %s)"
            " ON CONFLICT (source, external_id) DO NOTHING RETURNING id",
            [WebhookEvent.Source.STRIPE, event["id"], event["type"], json.dumps(event)]
            + [status, now],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _suspension_sync_later(event: dict) -> None:
    """After a payment event, resume (or suspend) the user now, not at the next sweep."""
    if event["type"] not in stripe_events.SUSPENSION_TRIGGERS:
        return
    user_id = stripe_events.stripe_event_user_id(event)
    if user_id is not None:
        # Recorded with the event's outcome, so a broker outage only delays it.
        task_enqueue(
            "accounts.tasks.suspension_sync_user", args=[user_id], key=f"suspension-sync:{user_id}"
        )


def _run_locked(stored: WebhookEvent) -> WebhookEvent:
    """Run the handler for a row locked by the caller's transaction, unless done; record."""
    if stored.status in DONE:
        return stored
    if not stripe_events.stripe_event_handled(stored.event_type):
        stored.status = WebhookEvent.Status.IGNORED
    else:
        stored.attempts += 1
        try:
            with transaction.atomic():
                stripe_events.stripe_event_handle(stored.payload)
            stored.status, stored.error = WebhookEvent.Status.PROCESSED, ""
            _suspension_sync_later(stored.payload)
        except Exception as exc:  # noqa: BLE001 - recorded on the event, answered 500
            logger.warning("stripe event %s failed: %s", stored.external_id, exc)
            stored.status = WebhookEvent.Status.FAILED
            stored.error = f"{type(exc).__name__}: {exc}"[:2000]
    stored.processed_at = timezone.now()
    stored.save(update_fields=["status", "error", "attempts", "processed_at"])
    return stored


def stripe_event_receive(*, payload: bytes, signature: str | None) -> Outcome:
    """The whole pipeline for one delivery; the view only turns the outcome into a response."""
    try:
        event = stripe_event_verify(payload=payload, signature=signature)
        stripe_event_check_owner(event)
    except WebhookRejected as exc:
        return Outcome(exc.status_code, str(exc))
    stored = stripe_event_accept(event=event)
    if stored.status == WebhookEvent.Status.FAILED:
        return Outcome(500, "The event is stored; processing failed and will be retried.", stored)
    return Outcome(200, stored.status, stored)


def stripe_events_replay(*, failed_only: bool = False) -> list[WebhookEvent]:
    """Reprocess stored Stripe events that did not complete: failed ones, and ones stored but
    never processed (a crash between store and process). Processed events are not run again,
    so a replay cannot repeat a notice email."""
    pending = [WebhookEvent.Status.FAILED] + ([] if failed_only else [WebhookEvent.Status.RECEIVED])
    ids = list(
        WebhookEvent.objects.filter(source=WebhookEvent.Source.STRIPE, status__in=pending)
        .order_by("received_at", "id")
        .values_list("pk", flat=True)
    )
    return [stripe_event_process(event_id=pk) for pk in ids]
