"""Readiness: `/readyz` runs every check in READINESS_CHECKS and answers 200 when all pass, 503
naming the ones that failed. (`/healthz`, liveness, touches nothing: billing.portal.views.trivial.)

A check is a function taking no argument that returns a dict of details (shown in the answer)
or raises CheckFailed. To add one, write the function and append `("name", function)` to
READINESS_CHECKS. Keep each check fast (short timeouts): a load balancer calls this often.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import redis
from django.conf import settings
from django.db import connection
from django.db.models import Min
from django.db.models.functions import Coalesce
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


class CheckFailed(Exception):
    """A readiness check failed; `detail` goes into the answer next to the message."""

    def __init__(self, message: str, **detail):
        super().__init__(message)
        self.detail = detail


def database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def redis_reachable() -> dict:
    """The Redis of the shared cache and sessions (production). Local `make run` uses neither
    Redis nor a broker (memory cache, eager Celery), so there it has nothing to check."""
    uses_redis = "redis" in settings.CACHES["default"]["BACKEND"].lower()
    if not uses_redis and settings.CELERY_TASK_ALWAYS_EAGER:
        return {"skipped": "not used (memory cache, eager Celery)"}
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise CheckFailed(f"Redis unreachable: {exc}") from exc
    finally:
        client.close()
    return {}


def _age_check(oldest: datetime | None, *, limit_seconds: int, what: str) -> dict:
    age = int((timezone.now() - oldest).total_seconds()) if oldest else 0
    detail = {"oldest_age_seconds": age, "limit_seconds": limit_seconds}
    if limit_seconds and age > limit_seconds:
        raise CheckFailed(f"{what} waiting for {age} s (limit {limit_seconds} s)", **detail)
    return detail


def webhook_events_pending() -> dict:
    """The webhook queue: how many stored events nobody has processed yet (status `received`),
    the oldest one's age (the check fails past the limit), and how many failed."""
    from webhooks.selectors import webhook_queue

    queue = webhook_queue()
    limit = settings.READYZ_WEBHOOK_MAX_AGE_SECONDS
    extra = {"unprocessed": queue.depth, "failed": queue.failed}
    try:
        detail = _age_check(
            queue.oldest_received_at, limit_seconds=limit, what="an unprocessed webhook event"
        )
    except CheckFailed as exc:
        exc.detail.update(extra)
        raise
    return {**detail, **extra}


def provisioning_waiting() -> dict:
    """The signup provisioning run most overdue: pending or waiting, measured from when its
    next attempt was due (its creation when none was set). A failed run waits for staff and
    is not counted here."""
    from accounts.models import ProvisioningRun, ProvisioningStatus

    oldest = ProvisioningRun.objects.filter(
        status__in=[ProvisioningStatus.PENDING, ProvisioningStatus.WAITING]
    ).aggregate(due=Min(Coalesce("next_attempt_at", "created_at")))["due"]
    limit = settings.READYZ_PROVISIONING_MAX_AGE_SECONDS
    return _age_check(oldest, limit_seconds=limit, what="a provisioning run")


def broker() -> dict:
    """The Celery broker, through the same short-timeout connection requests publish with."""
    from jobs.services import broker_check

    result = broker_check()
    if not result.startswith("ok"):
        raise CheckFailed(f"Celery broker {result}")
    return {}


def pending_tasks() -> dict:
    """The oldest task a request recorded that has not reached the broker (jobs.PendingTask)."""
    from jobs.models import PendingTask

    oldest = PendingTask.objects.filter(status=PendingTask.Status.PENDING).aggregate(
        at=Min("created_at")
    )["at"]
    return _age_check(oldest, limit_seconds=15 * 60, what="a pending task")


READINESS_CHECKS: list[tuple[str, Callable[[], dict]]] = [
    ("database", database),
    ("redis", redis_reachable),
    ("webhook_events", webhook_events_pending),
    ("provisioning", provisioning_waiting),
    ("broker", broker),
    ("pending_tasks", pending_tasks),
]


def readiness_run() -> tuple[bool, dict]:
    """Every check, in order; one failing (or crashing) does not stop the others."""
    results: dict[str, dict] = {}
    for name, check in READINESS_CHECKS:
        try:
            results[name] = {"ok": True, **check()}
        except CheckFailed as exc:
            results[name] = {"ok": False, "error": str(exc), **exc.detail}
        except Exception as exc:  # noqa: BLE001 - a broken dependency must answer 503, not 500
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return all(r["ok"] for r in results.values()), results


@never_cache
@require_GET
def readyz(request):
    ready, results = readiness_run()
    failing = [name for name, result in results.items() if not result["ok"]]
    body = {"status": "ready" if ready else "unavailable", "failing": failing, "checks": results}
    return JsonResponse(body, status=200 if ready else 503)
