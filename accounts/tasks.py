from __future__ import annotations

from celery import shared_task
from django.conf import settings

from accounts import suspension
from accounts.models import ProvisioningStatus, SuspensionRun, SuspensionStatus, User
from accounts.runs import LEASE
from accounts.services import (
    provisioning_give_up,
    provisioning_run,
    provisioning_schedule_retry,
    provisioning_stale,
)


def retry_countdown(retries: int) -> float:
    """Exponential backoff: base, 2 x base, 4 x base, ... capped."""
    base = settings.PROVISIONING_RETRY_BASE_SECONDS
    return min(base * 2**retries, settings.PROVISIONING_RETRY_MAX_SECONDS)


@shared_task(bind=True, acks_late=True)
def provision_user(self, user_id: int) -> str:
    """Run or resume one user's provisioning; retry with exponential backoff while it waits."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return "no such user"
    run = provisioning_run(user=user)
    busy = run.status == ProvisioningStatus.RUNNING  # another worker holds it, or one crashed
    if not (busy or run.status == ProvisioningStatus.WAITING) or self.request.is_eager:
        # Eager (local `make run`): no retry loop in the request; staff can retry from the panel.
        return run.status
    max_retries = settings.PROVISIONING_MAX_RETRIES
    if self.request.retries >= max_retries:
        provisioning_give_up(run=run)
        return ProvisioningStatus.FAILED
    # A busy run is looked at again once a crashed worker's lease has run out.
    countdown = LEASE.total_seconds() if busy else retry_countdown(self.request.retries)
    provisioning_schedule_retry(run=run, countdown=countdown)
    raise self.retry(countdown=countdown, max_retries=max_retries)


@shared_task
def provisioning_resume_stale() -> int:
    """Beat: queue again the runs whose task was lost (broker outage, crashed worker)."""
    user_ids = provisioning_stale()
    for user_id in user_ids:
        provision_user.delay(user_id)
    return len(user_ids)


@shared_task(bind=True, acks_late=True)
def suspension_execute(self, run_id: int) -> str:
    """Run or resume one suspension or resume run; retry with exponential backoff while it
    waits (Hopsworks or Kubernetes down)."""
    run = SuspensionRun.objects.filter(pk=run_id).first()
    if run is None:
        return "no such run"
    run = suspension.suspension_execute(run=run)
    busy = run.status == SuspensionStatus.RUNNING
    if not (busy or run.status == SuspensionStatus.WAITING) or self.request.is_eager:
        return run.status
    if self.request.retries >= settings.SUSPENSION_MAX_RETRIES:
        return run.status  # stays waiting: staff see it, the sweeper keeps trying
    countdown = LEASE.total_seconds() if busy else retry_countdown(self.request.retries)
    suspension.suspension_schedule_retry(run=run, countdown=countdown)
    raise self.retry(countdown=countdown, max_retries=settings.SUSPENSION_MAX_RETRIES)


@shared_task
def suspension_resume_stale() -> int:
    """Beat: queue again the suspension runs whose task was lost or ran out of retries."""
    run_ids = suspension.suspension_stale()
    for run_id in run_ids:
        suspension_execute.delay(run_id)
    return len(run_ids)


@shared_task
def suspension_sweep() -> dict:
    """Beat: suspend accounts whose grace is over, resume the ones that paid."""
    return suspension.suspension_sweep()


@shared_task
def suspension_sync_user(user_id: int) -> str:
    """After a payment event: resume (or suspend) one user now rather than at the next sweep."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return "no such user"
    run = suspension.suspension_sync(user=user)
    return f"{run.kind} run {run.pk}" if run else "no change"
