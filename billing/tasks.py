from __future__ import annotations

from celery import shared_task

from billing.services import credits_expire


@shared_task
def expire_credits() -> int:
    return len(credits_expire())


@shared_task(bind=True, max_retries=3)
def sync_stripe_usage(self, day: str | None = None) -> dict:
    """Nightly (03:00) and the cron door: report complete usage days to Stripe's meter."""
    from datetime import date

    from billing.services.stripe_sync import usage_sync_stripe

    result = usage_sync_stripe(day=date.fromisoformat(day) if day else None)
    if result.stopped:
        # Stripe down or rate limiting: nothing is lost; try again in a while.
        raise self.retry(countdown=600)
    return result.as_dict()
