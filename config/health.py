"""GET /readyz: a list of named checks, each with its result.

Only the database decides readiness (503): the app serves pages, the API and webhooks with
the broker down (work waits as PendingTask rows), so an unreachable broker is reported,
never a reason to take every web process out of rotation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from jobs.services import broker_check, pending_tasks_oldest


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], tuple[bool, str]]
    critical: bool


def _database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return False, type(exc).__name__
    return True, "ok"


def _broker() -> tuple[bool, str]:
    result = broker_check()
    return result.startswith("ok"), result


def _pending_tasks() -> tuple[bool, str]:
    age = pending_tasks_oldest()
    if age is None:
        return True, "none pending"
    return age.total_seconds() < 15 * 60, f"oldest pending {int(age.total_seconds())} s"


CHECKS = [
    Check("database", _database, critical=True),
    Check("broker", _broker, critical=False),
    Check("pending tasks", _pending_tasks, critical=False),
]


@require_GET
def readyz(request):
    results = []
    ready = True
    for check in CHECKS:
        ok, detail = check.run()
        ready = ready and (ok or not check.critical)
        results.append({"name": check.name, "ok": ok, "critical": check.critical, "detail": detail})
    return JsonResponse({"ready": ready, "checks": results}, status=200 if ready else 503)
