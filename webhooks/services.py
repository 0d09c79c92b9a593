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
from collections.abc import Callable
from dataclasses import dataclass

import stripe
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing.models import BillingAccount
from billing.payments import purchases, stripe_accounts
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


# --- handlers -------------------------------------------------------------------------------


def _obj(event: dict) -> dict:
    return event["data"]["object"]


def _checkout_completed(event: dict) -> None:
    purchases.checkout_fulfill(_obj(event)["id"])


def _checkout_failed(event: dict) -> None:
    purchases.checkout_fail(
        session_id=_obj(event)["id"], status="failed", reason="The payment failed."
    )


def _checkout_expired(event: dict) -> None:
    purchases.checkout_fail(
        session_id=_obj(event)["id"], status="expired", reason="The Checkout Session expired."
    )


def _invoice_paid(event: dict) -> None:
    invoice = _obj(event)
    stripe_accounts.account_invoice_paid(
        account=_customer_account(event), invoice=invoice, event=event
    )
    stripe_accounts.stripe_mirror(invoice)


def _invoice_payment_failed(event: dict) -> None:
    invoice = _obj(event)
    stripe_accounts.account_invoice_payment_failed(
        account=_customer_account(event), invoice=invoice, event=event
    )
    stripe_accounts.stripe_mirror(invoice)


def _subscription_changed(event: dict) -> None:
    subscription = _obj(event)
    stripe_accounts.account_subscription_changed(
        account=_customer_account(event),
        subscription=subscription,
        deleted=event["type"] == "customer.subscription.deleted",
        event=event,
    )
    stripe_accounts.stripe_mirror(subscription)


HANDLERS: dict[str, Callable[[dict], None]] = {
    "checkout.session.completed": _checkout_completed,
    "checkout.session.async_payment_succeeded": _checkout_completed,
    "checkout.session.async_payment_failed": _checkout_failed,
    "checkout.session.expired": _checkout_expired,
    "invoice.paid": _invoice_paid,
    "invoice.payment_failed": _invoice_payment_failed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
}


def _customer_account(event: dict) -> BillingAccount:
    account = stripe_accounts.stripe_customer_account(_obj(event).get("customer"))
    if account is None:  # checked on arrival; only a deleted account gets here
        raise LookupError(f"No account for Stripe customer {_obj(event).get('customer')!r}.")
    return account


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
        stripe.WebhookSignature.verify_header(text, signature, secret, SIGNATURE_TOLERANCE_SECONDS)
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise WebhookRejected(f"Invalid signature: {exc}") from exc
    except (TypeError, ValueError) as exc:
        # hmac.compare_digest refuses a non-ASCII header (TypeError); a bad timestamp number.
        raise WebhookRejected("Invalid signature: malformed Stripe-Signature header.") from exc
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
    kind = event["type"]
    if kind not in HANDLERS:
        return
    obj = _obj(event)
    if kind.startswith("checkout.session."):
        account_id = purchases.checkout_session_account_id(obj)
        if account_id is None or not BillingAccount.objects.filter(pk=account_id).exists():
            raise WebhookRejected(f"Checkout Session {obj.get('id')!r} names no account of ours.")
    elif stripe_accounts.stripe_customer_account(obj.get("customer")) is None:
        raise WebhookRejected(f"Unknown Stripe customer {obj.get('customer')!r}.")


def stripe_event_store(*, event: dict) -> WebhookEvent:
    """Step 4-5: the stored row for this event id, created on first delivery."""
    status = (
        WebhookEvent.Status.RECEIVED if event["type"] in HANDLERS else WebhookEvent.Status.IGNORED
    )
    try:
        with transaction.atomic():
            return WebhookEvent.objects.create(
                source=WebhookEvent.Source.STRIPE,
                external_id=event["id"],
                event_type=event["type"],
                payload=event,
                status=status,
            )
    except IntegrityError:  # delivered before (or by a concurrent delivery): the stored row
        stored = WebhookEvent.objects.get(
            source=WebhookEvent.Source.STRIPE, external_id=event["id"]
        )
    return stored


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
        WebhookEvent.Status.RECEIVED if event["type"] in HANDLERS else WebhookEvent.Status.IGNORED
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


def _run_locked(stored: WebhookEvent) -> WebhookEvent:
    """Run the handler for a row locked by the caller's transaction, unless done; record."""
    if stored.status in DONE:
        return stored
    handler = HANDLERS.get(stored.event_type)
    if handler is None:
        stored.status = WebhookEvent.Status.IGNORED
    else:
        stored.attempts += 1
        try:
            with transaction.atomic():
                handler(stored.payload)
            stored.status, stored.error = WebhookEvent.Status.PROCESSED, ""
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
