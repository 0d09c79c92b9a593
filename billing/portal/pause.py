"""What the billing page says about a spend-cap pause (billing.budgets.caps decides it,
accounts.suspension stops the work). Not in the cached page body: a sampler pass changes it."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.suspension import RESUMED_SHOWN_FOR, suspension_is_active, suspension_summary
from billing.models import BillingAccount, SpendPause


def pause_of(account: BillingAccount) -> dict | None:
    """{"open": the SpendPause in force or None, "work": what the pause run stopped (or the
    lifted one's, for 30 days)}; None when there is nothing to say or the user is suspended
    (the suspension banner says it). One query for an account never paused."""
    latest = SpendPause.objects.filter(account=account).order_by("-id").first()
    if latest is None or _long_lifted(latest):
        return None
    if suspension_is_active(user=account.user):
        return None
    work = suspension_summary(user=account.user, pause=True)
    open_pause = latest if latest.lifted_at is None else None
    if open_pause is None and work is None:
        return None
    return {"open": open_pause, "work": work}


def _long_lifted(pause: SpendPause) -> bool:
    cutoff = timezone.now() - RESUMED_SHOWN_FOR - timedelta(days=1)
    return pause.lifted_at is not None and pause.lifted_at < cutoff
