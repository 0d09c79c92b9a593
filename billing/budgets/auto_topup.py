"""Auto top-up, the money side: is it on, and has the balance crossed its threshold?

A crossing is an AutoTopUpCharge row with a unique (account, crossing) key, inserted before
anything is charged: of many checks that see the same crossing at once exactly one inserts
it, and only that one enqueues the charge (billing.payments.auto_topup.auto_topup_charge).
The key names the last posting after which the balance was at or above the threshold, so a
new crossing exists only once the balance has been back above it; a failed top-up is
therefore retried at the next crossing, never in a loop.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Max, Q

from billing.ledger.accounts import prepaid_active
from billing.models import AutoTopUp, AutoTopUpCharge, BillingAccount, BillingMode
from jobs.services import task_enqueue

CHARGE_TASK = "billing.tasks.auto_topup_charge"


def auto_topup_of(*, account: BillingAccount) -> AutoTopUp | None:
    return AutoTopUp.objects.filter(account=account).first()


def auto_topup_is_on(*, account: BillingAccount) -> bool:
    """Whether a falling balance of this account is topped up (prepaid, opted in, not turned
    off after failures). Spend caps pause a prepaid account below zero only when this is off."""
    on = AutoTopUp.objects.filter(account=account, enabled=True)
    return prepaid_active(account) and on.exists()


def auto_topup_check(*, account: BillingAccount) -> AutoTopUpCharge | None:
    """1. unless prepaid with auto top-up on and the balance below the threshold, nothing;
    2. record the crossing (unique), the balance and the crossing both read as of the latest
       posting: a crossing recorded already is nothing;
    3. enqueue the charge, recorded in this transaction so a broker outage only delays it."""
    wanted = AutoTopUp.objects.filter(account=account, enabled=True).first()
    if wanted is None or not prepaid_active(account):
        return None
    latest = account.transactions.order_by("-id").values_list("id", "balance_after_cents").first()
    last_id, balance = latest or (0, 0)
    if balance >= wanted.threshold_cents:
        return None
    with transaction.atomic():
        charge = _record(account, wanted, balance, _crossing(account, wanted, last_id))
        if charge is not None:
            task_enqueue(CHARGE_TASK, args=[charge.pk], key=f"auto-topup:{charge.pk}")
    return charge


def auto_topup_check_users(*, user_ids: set[int]) -> int:
    """The check for every prepaid account among `user_ids` (after the nightly deduction)."""
    accounts = BillingAccount.objects.filter(
        Q(user_id__in=user_ids), mode=BillingMode.PREPAID, auto_topup__enabled=True
    )
    return sum(auto_topup_check(account=a) is not None for a in accounts)


def _crossing(account: BillingAccount, wanted: AutoTopUp, last_id: int) -> str:
    """Read as of posting `last_id`, the one whose balance was checked: a top-up granted
    meanwhile cannot make a late check see a new crossing (the ledger is append-only)."""
    last_above = account.transactions.filter(
        id__lte=last_id, balance_after_cents__gte=wanted.threshold_cents
    ).aggregate(m=Max("id"))["m"]
    return f"{wanted.threshold_cents}:after-tx:{last_above or 0}"


def _record(
    account: BillingAccount, wanted: AutoTopUp, balance: int, crossing: str
) -> AutoTopUpCharge | None:
    try:
        with transaction.atomic():
            return AutoTopUpCharge.objects.create(
                account=account,
                crossing=crossing,
                threshold_cents=wanted.threshold_cents,
                amount_cents=wanted.amount_cents,
                balance_cents=balance,
                currency=account.currency,
            )
    except IntegrityError:
        return None  # this crossing has its top-up already
