"""What the two resumable state machines (provisioning in services.py, suspension in
suspension.py) share: taking a run's lease and recording a step's start and finish."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, Q, QuerySet
from django.utils import timezone

# How long a claimed run stays claimed: a worker that dies mid-run frees it after this.
LEASE = timedelta(minutes=10)
RUNNING = "running"


def run_claim(runs: QuerySet, *, now: datetime) -> int:
    """Claim the run(s) in `runs` whose lease is free: running, one more attempt, no retry
    pending. The number claimed (0: another worker holds it)."""
    return runs.filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now)).update(
        locked_until=now + LEASE,
        status=RUNNING,
        attempts=F("attempts") + 1,
        next_attempt_at=None,
    )


def step_begin(*, runs: QuerySet, step, now: datetime | None = None) -> None:
    """`runs`: the step's run, as a queryset (its current step is updated in place)."""
    step.status = RUNNING
    step.attempts += 1
    step.started_at = step.started_at or now or timezone.now()
    step.save(update_fields=["status", "attempts", "started_at", "updated_at"])
    runs.update(current_step=step.name)


def step_finish(*, step, status: str, detail: dict) -> None:
    step.status = status
    step.detail = {**step.detail, **detail}
    step.last_error = ""
    step.finished_at = timezone.now()
    step.save(update_fields=["status", "detail", "last_error", "finished_at", "updated_at"])
