"""Deductions that never go missing: the nightly sweeper.

The collection charges a prepaid day when it completes it; a refused posting or a crash in
between leaves the day uncharged, and the next night only collects the next day. The sweeper:

1. takes every complete usage day from LOOKBACK (the Stripe sync's look-back) to yesterday
   whose user's account was prepaid that day;
2. compares the day's cost with what the ledger holds for `usage_day:<id>` (one query);
3. for each day not fully charged, calls the same `credits_deduct_usage` the collection uses,
   which posts only the difference under the account lock with the same keys, so a day is
   never charged twice even if the collection runs at the same moment;
4. checks the auto top-up of the accounts it charged (billing.budgets.auto_topup);
5. records the pass (a DeductionSweep row, shown to staff) and logs the days it caught up.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Sum
from django.utils import timezone

from billing.budgets.auto_topup import auto_topup_check_users
from billing.ledger import BillingError, billing_modes_on_day, credits_deduct_usage
from billing.ledger.calendar import LOOKBACK, billing_today
from billing.models import BillingAccount, BillingMode, CreditTransaction
from usage.models import CollectionStatus, DeductionSweep, UsageDay

logger = logging.getLogger(__name__)


def deductions_catch_up(*, now: datetime | None = None) -> DeductionSweep:
    now = now or timezone.now()
    today = billing_today(now)
    sweep = DeductionSweep.objects.create(
        first_day=today - timedelta(days=LOOKBACK.days), last_day=today - timedelta(days=1)
    )
    days = _prepaid_days(sweep)
    charged = _charged({f"usage_day:{d.pk}" for d in days})
    errors = []
    for usage_day in days:
        ref = f"usage_day:{usage_day.pk}"
        if charged.get(ref, 0) == -usage_day.cost_cents:
            continue
        try:
            posted = credits_deduct_usage(
                account=usage_day.account, usage_ref=ref, cost_cents=usage_day.cost_cents
            )
        except BillingError as exc:
            errors.append(f"usage day {usage_day.pk}: {exc}")
            continue
        if posted is not None:
            sweep.days_caught_up += 1
            sweep.cents_posted += posted.amount_cents
            sweep.caught_up.append(_entry(usage_day, posted.amount_cents))
    if sweep.caught_up:  # a balance fell: top up whoever crossed their threshold
        auto_topup_check_users(user_ids={entry["user"] for entry in sweep.caught_up})
    sweep.days_checked = len(days)
    sweep.errors = "\n".join(errors)[:4000]
    sweep.finished_at = timezone.now()
    sweep.save()
    _log(sweep)
    return sweep


def _prepaid_days(sweep: DeductionSweep) -> list[UsageDay]:
    return prepaid_usage_days(
        UsageDay.objects.filter(
            status=CollectionStatus.COMPLETE,
            user__isnull=False,
            date__gte=sweep.first_day,
            date__lte=sweep.last_day,
        ).order_by("date", "pk")
    )


def prepaid_usage_days(days) -> list[UsageDay]:
    """The usage days charged to credits: their account was prepaid on that day (never also
    sent to Stripe). Each comes back with its `account` attached."""
    days = list(days)
    accounts = {
        a.user_id: a
        for a in BillingAccount.objects.filter(user_id__in={d.user_id for d in days if d.user_id})
    }
    modes = {
        day: billing_modes_on_day(accounts=accounts.values(), day=day)
        for day in {d.date for d in days}
    }
    kept = []
    for usage_day in days:
        account = accounts.get(usage_day.user_id)
        if account is not None and modes[usage_day.date][account.pk] == BillingMode.PREPAID:
            usage_day.account = account
            kept.append(usage_day)
    return kept


def _charged(refs: set[str]) -> dict[str, int]:
    rows = (
        CreditTransaction.objects.filter(source_ref__in=refs)
        .values("source_ref")
        .annotate(total=Sum("amount_cents"))
    )
    return {row["source_ref"]: row["total"] for row in rows}


def _entry(usage_day: UsageDay, cents: int) -> dict:
    return {
        "usage_day": usage_day.pk,
        "user": usage_day.user_id,
        "date": usage_day.date.isoformat(),
        "cents": cents,
    }


def _log(sweep: DeductionSweep) -> None:
    level = logging.WARNING if sweep.days_caught_up or sweep.errors else logging.INFO
    logger.log(
        level,
        "deduction sweep %s: %d prepaid days checked, %d caught up (%+d cents)%s",
        sweep.pk,
        sweep.days_checked,
        sweep.days_caught_up,
        sweep.cents_posted,
        f"; errors: {sweep.errors}" if sweep.errors else "",
    )
