from __future__ import annotations

from celery import shared_task

from jobs.services import pending_tasks_sweep


@shared_task
def sweep_pending_tasks() -> int:
    """Beat, every minute: send what a broker outage left pending."""
    return pending_tasks_sweep()
