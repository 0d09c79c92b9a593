from __future__ import annotations

from celery import shared_task

from accounts.models import ProvisioningStatus, User
from accounts.services import provisioning_give_up, provisioning_run, provisioning_schedule_retry

# 30 s, 1 min, 2 min, ... capped at 1 h: about 9 hours of retries before staff must step in.
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
MAX_RETRIES = 14


def retry_countdown(retries: int) -> int:
    return min(RETRY_BASE_SECONDS * 2**retries, RETRY_MAX_SECONDS)


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def provision_user(self, user_id: int) -> str:
    """Run or resume one user's provisioning; retry with exponential backoff while it waits."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return "no such user"
    run = provisioning_run(user=user)
    if run.status != ProvisioningStatus.WAITING or self.request.is_eager:
        # Eager (local `make run`): no retry loop in the request; staff can retry from the panel.
        return run.status
    if self.request.retries >= self.max_retries:
        provisioning_give_up(run=run)
        return ProvisioningStatus.FAILED
    countdown = retry_countdown(self.request.retries)
    provisioning_schedule_retry(run=run, countdown=countdown)
    raise self.retry(countdown=countdown)
