"""What the billing page says about a spend-cap pause (billing.budgets.caps decides it,
accounts.suspension stops the work). Not in the cached page body: a sampler pass changes it."""

from __future__ import annotations

from accounts.suspension import suspension_is_active, suspension_summary
from billing.budgets.caps import spend_pause_open
from billing.models import BillingAccount


def pause_of(account: BillingAccount) -> dict | None:
    """{"open": the SpendPause in force or None, "work": what the pause run stopped (or the
    lifted one's, for 30 days)}; None when there is nothing to say or the user is suspended
    (the suspension banner says it)."""
    if suspension_is_active(user=account.user):
        return None
    open_pause = spend_pause_open(account=account)
    work = suspension_summary(user=account.user, pause=True)
    if open_pause is None and work is None:
        return None
    return {"open": open_pause, "work": work}
