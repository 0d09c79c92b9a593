from __future__ import annotations

from celery import shared_task

from billing.ledger import credits_expire
from billing.payments.auto_topup import auto_topup_charge as topup_charge
from billing.payments.dunning import dunning_remind_due


@shared_task
def expire_credits() -> int:
    return len(credits_expire())


@shared_task(bind=True, max_retries=3)
def sync_stripe_usage(self, day: str | None = None) -> dict:
    """Nightly (03:00) and the cron door: report complete usage days to Stripe's meter."""
    from datetime import date

    from billing.payments.stripe_sync import usage_sync_stripe

    result = usage_sync_stripe(day=date.fromisoformat(day) if day else None)
    if result.stopped:
        # Stripe down or rate limiting: nothing is lost; try again in a while.
        raise self.retry(countdown=600)
    return result.as_dict()


@shared_task(bind=True, max_retries=8)
def subscription_ensure(self, account_id: int) -> str:
    """The metered subscription of an account that became postpaid (keyed, safe to repeat)."""
    from billing.models import BillingAccount
    from billing.payments import gateway

    if not gateway.is_configured():
        return "stripe not configured"
    account = BillingAccount.objects.select_related("user").get(pk=account_id)
    try:
        return gateway.subscription_ensure(account=account)
    except gateway.StripeUnavailable as exc:
        raise self.retry(countdown=min(60 * 2**self.request.retries, 3600)) from exc


@shared_task
def dunning_reminders() -> int:
    """Beat, hourly: the day-3 and last-day reminders, and any a crash left unsent."""
    return dunning_remind_due()


@shared_task
def auto_topup_charge(charge_id: int) -> str:
    """One recorded top-up crossing: the off-session charge (keyed; safe to run twice)."""
    return topup_charge(charge_id=charge_id).status
