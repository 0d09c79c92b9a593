"""The one advisory-lock helper: a PostgreSQL session lock named by a string, taken without
waiting. Used so that two runs of the same job never work on the same thing at once."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


def advisory_lock_key(name: str) -> int:
    """A stable signed 63-bit key for pg_advisory_lock(bigint)."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True) >> 1


@contextmanager
def advisory_lock(name: str) -> Iterator[bool]:
    """Yields whether this process holds the lock; never waits. Without PostgreSQL
    (SQLite in `make run`, one process) there is nothing to lock and it always holds."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = advisory_lock_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
