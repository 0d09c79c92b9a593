"""Stripe events out of order: one is applied to an object only if it is newer than the last
one applied to that object.

Stripe neither orders deliveries nor stops retrying for days, and two deliveries can be
processed at the same moment. So the decision is taken on the object's row, after locking it:
the event's (`created`, id) is compared with the last applied one, stored on the row.
`created` has one-second resolution; equal seconds break on the event id, so every process
decides the same way. An older event applies nothing (its webhook row is still recorded as
processed).

To order another kind of object, give its model two fields, `<prefix>_created` (a nullable
BigIntegerField, Stripe's Unix time) and `<prefix>_id` (a CharField), lock the row, and call
`event_claim(row, event, prefix=...)`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class EventStamp:
    created: int
    event_id: str


def event_stamp(event: dict) -> EventStamp:
    return EventStamp(int(event.get("created") or 0), str(event.get("id") or ""))


def event_claim(row, event: dict, *, prefix: str) -> bool:
    """Under the caller's row lock: True, with the row's stamp moved to this event, when the
    event is newer than the last one applied; False when it is not (apply nothing)."""
    stamp = event_stamp(event)
    created_field, id_field = f"{prefix}_created", f"{prefix}_id"
    last_created = getattr(row, created_field)
    if last_created is not None and stamp <= EventStamp(last_created, getattr(row, id_field)):
        return False
    setattr(row, created_field, stamp.created)
    setattr(row, id_field, stamp.event_id)
    row.save(update_fields=[created_field, id_field])
    return True
