"""What the Stripe and Auth0 receivers share: store a delivery once, then run its handler in a
wrapper that records the outcome on the stored row.

- `webhook_event_store`: one INSERT ... ON CONFLICT DO NOTHING under the UNIQUE (source,
  external id); a duplicate delivery stores nothing. A received row carries its
  `next_attempt_at`, when the sweeper sends it again if nobody has processed it by then: the
  row itself is the durable record of the work, so no second row is written per delivery.
- `webhook_event_run`: for a row the caller holds locked: run the handler in a savepoint,
  record attempts, status, error and, for a failure, when to try again (exponential backoff).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from webhooks.models import WebhookEvent

logger = logging.getLogger(__name__)

DONE = {WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED}
RETRY_FIRST = timedelta(minutes=1)  # after the first failure; doubled after each next one
RETRY_LONGEST = timedelta(hours=6)


def webhook_event_store(
    *, source: str, external_id: str, event_type: str, payload: dict, status: str
) -> WebhookEvent | None:
    """The new row, or None when (source, external id) is stored already. Written as SQL: the
    ORM has no ON CONFLICT DO NOTHING that returns the id."""
    now = timezone.now()
    due = now + sweep_after() if status == WebhookEvent.Status.RECEIVED else None
    table = WebhookEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (source, external_id, event_type, payload, status, error,"
            " attempts, received_at, next_attempt_at) VALUES (%s, %s, %s, %s, %s, '', 0, %s, %s)"
            " ON CONFLICT (source, external_id) DO NOTHING RETURNING id",
            [source, external_id, event_type, json.dumps(payload), status, now, due],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return WebhookEvent(
        pk=row[0],
        source=source,
        external_id=external_id,
        event_type=event_type,
        payload=payload,
        status=status,
        received_at=now,
        next_attempt_at=due,
    )


def sweep_after() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_SWEEP_AFTER_SECONDS)


@dataclass(frozen=True)
class Run:
    event: WebhookEvent
    result: Any = None
    error: Exception | None = None


def webhook_event_run(
    stored: WebhookEvent,
    handler: Callable[[], Any],
    *,
    recorded: tuple[type[Exception], ...] = (Exception,),
    retries: bool = True,
) -> Run:
    """Run `handler` once for a row the caller's transaction holds locked, unless it is done.
    An exception of a `recorded` type is kept on the row (failed, with its error and, with
    `retries`, when the sweeper tries again); any other propagates and rolls the caller back."""
    if stored.status in DONE:
        return Run(stored)
    stored.attempts += 1
    try:
        with transaction.atomic():
            result = handler()
    except recorded as exc:
        logger.warning("%s event %s failed: %s", stored.source, stored.external_id, exc)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        _record(stored, WebhookEvent.Status.FAILED, error, retries=retries)
        return Run(stored, error=exc)
    _record(stored, WebhookEvent.Status.PROCESSED, "")
    return Run(stored, result=result)


def webhook_event_ignore(stored: WebhookEvent) -> WebhookEvent:
    """A type outside the allow-list: acknowledged, never run."""
    if stored.status not in DONE:
        _record(stored, WebhookEvent.Status.IGNORED, "")
    return stored


def _record(stored: WebhookEvent, status: str, error: str, *, retries: bool = False) -> None:
    now = timezone.now()
    stored.status, stored.error, stored.processed_at = status, error, now
    stored.next_attempt_at = retry_at(attempts=stored.attempts, now=now) if retries else None
    stored.save(update_fields=["status", "error", "attempts", "processed_at", "next_attempt_at"])


def retry_at(*, attempts: int, now: datetime) -> datetime | None:
    """When a failed event is tried again: 1 min after the first failure, doubling, at most
    6 h apart; None after WEBHOOK_MAX_ATTEMPTS (then staff replay it)."""
    if attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        return None
    return now + min(RETRY_FIRST * 2 ** (attempts - 1), RETRY_LONGEST)
