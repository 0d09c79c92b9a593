from __future__ import annotations

from celery import shared_task

from webhooks.services import stripe_event_process, stripe_events_sweep


@shared_task(acks_late=True, ignore_result=True)
def process_stripe_event(event_id: int) -> str:
    """One stored Stripe event; a handler error is recorded on it and the sweeper retries."""
    return stripe_event_process(event_id=event_id).status


@shared_task
def sweep_stripe_events() -> int:
    """Beat, every minute: resend the Stripe events stored but not processed in time."""
    return stripe_events_sweep()
