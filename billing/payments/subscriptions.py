"""The Stripe side of switching an account back to postpaid."""

from __future__ import annotations

from django.db import transaction

from billing.ledger import prepaid_disable
from billing.models import BillingAccount
from billing.payments import gateway


@transaction.atomic
def postpaid_switch(
    *, account: BillingAccount, changed_by=None, reason: str = ""
) -> BillingAccount:
    """Withdraw the prepaid opt-in (billing.ledger.prepaid_disable). A postpaid account needs
    the metered Stripe subscription that signup skipped for prepaid ones: it is ensured after
    commit, by a task (keyed, safe to repeat)."""
    was_prepaid = BillingAccount.objects.select_for_update().get(pk=account.pk).is_prepaid
    account = prepaid_disable(account=account, changed_by=changed_by, reason=reason)
    if was_prepaid and not account.stripe_subscription_id:
        transaction.on_commit(lambda: _subscription_ensure_later(account.pk))
    return account


def _subscription_ensure_later(account_id: int) -> None:
    # The Celery door imports this package; imported here so the door stays above it.
    from billing.tasks import subscription_ensure

    if gateway.is_configured():
        subscription_ensure.delay(account_id)
