"""The Stripe side of switching an account back to postpaid."""

from __future__ import annotations

from django.db import transaction

from billing.ledger import prepaid_disable
from billing.models import BillingAccount
from jobs.services import task_enqueue


@transaction.atomic
def postpaid_switch(
    *, account: BillingAccount, changed_by=None, reason: str = ""
) -> BillingAccount:
    """Withdraw the prepaid opt-in (billing.ledger.prepaid_disable). A postpaid account needs
    the metered Stripe subscription that signup skipped for prepaid ones: that follow-up is
    recorded in the same transaction as the switch (a PendingTask, sent after commit or by the
    sweeper), so the switch never commits without it."""
    was_prepaid = BillingAccount.objects.select_for_update().get(pk=account.pk).is_prepaid
    account = prepaid_disable(account=account, changed_by=changed_by, reason=reason)
    if was_prepaid and not account.stripe_subscription_id:
        task_enqueue(
            "billing.tasks.subscription_ensure",
            args=[account.pk],
            key=f"subscription-ensure:{account.pk}",
        )
    return account
