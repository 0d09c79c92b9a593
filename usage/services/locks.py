"""One collection per cluster-day at a time: a PostgreSQL session advisory lock."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from django.db import connection


def cluster_day_lock_key(*, cluster_id: int, day: date) -> int:
    """A stable signed 63-bit key for pg_advisory_lock(bigint)."""
    digest = hashlib.sha256(f"hopsbill:usage:{cluster_id}:{day.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True) >> 1


@contextmanager
def cluster_day_lock(*, cluster_id: int, day: date) -> Iterator[bool]:
    """Yields whether this process holds the cluster-day; never waits. Without PostgreSQL
    (SQLite in `make run`, one process) there is nothing to lock and it always holds."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = cluster_day_lock_key(cluster_id=cluster_id, day=day)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
