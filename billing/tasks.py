from __future__ import annotations

from celery import shared_task

from billing.services import credits_expire


@shared_task
def expire_credits() -> int:
    return len(credits_expire())
