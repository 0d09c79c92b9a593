"""A resumable run of recorded steps: the moves both state machines (provisioning in
accounts.services, suspension in accounts.suspension) make on their run and step rows.

Each helper takes `run_rows`, a queryset selecting the one run row together with any guard the
machine needs (e.g. "still running", so a run canceled meanwhile is not overwritten), and
writes with a conditional UPDATE, so two workers never both act on one run.
The status values written here are in every run's status choices (tests/accounts/test_runs.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from accounts.models import StepBase

# How long a claimed run stays claimed: a worker that dies mid-run frees it after this.
LEASE = timedelta(minutes=10)
PENDING = "pending"
RUNNING = "running"
WAITING = "waiting"
FAILED = "failed"
DONE = "done"
SKIPPED = "skipped"
FINISHED = {DONE, SKIPPED}


def steps_run(
    *,
    run_rows: QuerySet,
    steps: Iterable[StepBase],
    call: Callable[[StepBase], tuple[str, dict]],
    fail: Callable[[StepBase, Exception], None],
    proceed: Callable[[], bool] = lambda: True,
) -> bool:
    """Run each unfinished step in order: begin it, `call` it for (status, detail), finish it.
    A step that raises is handed to `fail` (which records and judges it) and the run stops
    there; so does a run for which `proceed` says no. True when every step is finished."""
    for step in steps:
        if step.status in FINISHED:
            continue
        if not proceed():
            return False
        step_begin(run_rows=run_rows, step=step)
        try:
            status, detail = call(step)
        except Exception as exc:  # every failure is recorded on the step, then judged
            fail(step, exc)
            return False
        step_finish(step=step, status=status, detail=detail)
    return True


def run_stale_q(*, now) -> Q:
    """Runs that should be moving but have no live task: pending for 5 minutes, waiting 15
    minutes past their retry time (a lost message), or running on an expired lease."""
    return (
        Q(status=PENDING, updated_at__lt=now - timedelta(minutes=5))
        | Q(status=WAITING, next_attempt_at__lt=now - timedelta(minutes=15))
        | Q(status=RUNNING, locked_until__lt=now)
    )


def run_claim(*, run_rows: QuerySet, lease: timedelta) -> bool:
    """Take the run for `lease` unless another worker holds a live lease; counts an attempt."""
    now = timezone.now()
    claimed = run_rows.filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now)).update(
        locked_until=now + lease,
        status=RUNNING,
        attempts=F("attempts") + 1,
        next_attempt_at=None,
    )
    return bool(claimed)


def run_release(*, run_rows: QuerySet) -> None:
    run_rows.update(locked_until=None)


def run_finish(*, run_rows: QuerySet) -> None:
    run_rows.update(status=DONE, current_step="", last_error="", finished_at=timezone.now())


def run_schedule_retry(*, run_rows: QuerySet, countdown: float) -> None:
    run_rows.filter(status=WAITING).update(
        next_attempt_at=timezone.now() + timedelta(seconds=countdown)
    )


def step_begin(*, run_rows: QuerySet, step: StepBase) -> None:
    step.status = RUNNING
    step.attempts += 1
    step.started_at = step.started_at or timezone.now()
    step.save(update_fields=["status", "attempts", "started_at", "updated_at"])
    run_rows.update(current_step=step.name)


def step_finish(*, step: StepBase, status: str, detail: dict) -> None:
    step.status = status
    step.detail = {**step.detail, **detail}
    step.last_error = ""
    step.finished_at = timezone.now()
    step.save(update_fields=["status", "detail", "last_error", "finished_at", "updated_at"])


def step_fail(*, run_rows: QuerySet, step: StepBase, error: str, retryable: bool) -> str:
    """Record the error on the step and the run: WAITING when waiting may help, else FAILED."""
    status = WAITING if retryable else FAILED
    step.status = status
    step.last_error = error
    step.save(update_fields=["status", "last_error", "updated_at"])
    run_rows.update(status=status, last_error=error)
    return status
