"""One collection per cluster-day at a time (config.locks)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import date

from config.locks import advisory_lock, advisory_lock_key


def _name(cluster_id: int, day: date) -> str:
    return f"hopsbill:usage:{cluster_id}:{day.isoformat()}"


def cluster_day_lock_key(*, cluster_id: int, day: date) -> int:
    return advisory_lock_key(_name(cluster_id, day))


def cluster_day_lock(*, cluster_id: int, day: date) -> AbstractContextManager[bool]:
    """Whether this process holds the cluster-day; never waits."""
    return advisory_lock(_name(cluster_id, day))
