"""Budgets and alerts: each user's monthly budget with alert percentages, and prepaid
low-balance thresholds; every alert emailed once per crossing per period.

A crossing is a SpendAlert row with a unique key (account, kind, threshold, period), inserted
before the email is sent: of several checks that see the same crossing at once (concurrent
sampler passes, the nightly collection) exactly one inserts it and sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from billing.budgets.caps import spend_cap_check
from billing.budgets.spend import SpendNow
from billing.ledger.accounts import prepaid_active
from billing.ledger.calendar import billing_today
from billing.ledger.errors import BillingError
from billing.ledger.money import format_cents
from billing.models import BillingAccount, BillingMode, BudgetSettings, SpendAlert

MAX_BUDGET_CENTS = 100_000_000  # $1,000,000 a month: above is a typo
MAX_PERCENT = 1000
MAX_ALERTS = 10


@dataclass(frozen=True)
class AlertSettings:
    monthly_budget_cents: int | None
    alert_percents: list[int]
    low_balance_thresholds_cents: list[int]
    hard_cap: bool = False


def alert_settings_of(*, account: BillingAccount) -> AlertSettings:
    row = BudgetSettings.objects.filter(account=account).first()
    default_low = [settings.LOW_BALANCE_THRESHOLD_CENTS]
    if row is None:
        return AlertSettings(None, [50, 80, 100], default_low)
    low = row.low_balance_thresholds_cents
    return AlertSettings(
        row.monthly_budget_cents,
        row.alert_percents,
        default_low if low is None else low,
        row.hard_cap,
    )


def alert_settings_set(
    *,
    account: BillingAccount,
    monthly_budget_cents: int | None,
    alert_percents: list[int],
    low_balance_thresholds_cents: list[int] | None,
    hard_cap: bool = False,
) -> BudgetSettings:
    """Validated again here (every door comes through): positive, sane, at most 10 each; a
    hard cap needs a budget. The cap is checked at once: raising it may lift a pause, lowering
    it below the spend pauses."""
    if hard_cap and monthly_budget_cents is None:
        raise BillingError("A hard cap needs a monthly budget.")
    if monthly_budget_cents is not None and not 0 < monthly_budget_cents <= MAX_BUDGET_CENTS:
        raise BillingError("The monthly budget must be above zero and at most $1,000,000.")
    if len(alert_percents) > MAX_ALERTS or any(not 0 < p <= MAX_PERCENT for p in alert_percents):
        raise BillingError("Alert percentages must be between 1 and 1000 (at most 10).")
    low = low_balance_thresholds_cents
    if low is not None and (
        len(low) > MAX_ALERTS or any(not 0 < t <= MAX_BUDGET_CENTS for t in low)
    ):
        raise BillingError("Low-balance thresholds must be above zero (at most 10).")
    row, _ = BudgetSettings.objects.update_or_create(
        account=account,
        defaults={
            "monthly_budget_cents": monthly_budget_cents,
            "alert_percents": sorted(set(alert_percents)),
            "low_balance_thresholds_cents": None if low is None else sorted(set(low)),
            "hard_cap": hard_cap,
        },
    )
    spend_cap_check(account=account)
    return row


def spend_alerts_check(
    *, account: BillingAccount, now: datetime | None = None, spend: SpendNow | None = None
) -> list[SpendAlert]:
    """1. Budget: the month's spend (collected days + today's estimate) against each percent.
    2. Prepaid: available credits (balance - today's estimate) against each threshold.
    3. Each crossing not yet recorded is recorded and emailed (after commit)."""
    now = now or timezone.now()
    spend = spend or SpendNow(account, now)
    wanted = alert_settings_of(account=account)
    crossed: list[tuple[str, int, str, int]] = []
    if wanted.monthly_budget_cents:
        spent = spend.collected_cents + spend.estimate_cents
        period = f"{billing_today(now):%Y-%m}:{wanted.monthly_budget_cents}"
        for percent in wanted.alert_percents:
            if spent * 100 >= wanted.monthly_budget_cents * percent:
                crossed.append((SpendAlert.Kind.BUDGET, percent, period, spent))
    if prepaid_active(account):
        available = account.balance_cents - spend.estimate_cents
        period = f"after-tx:{spend.last_credit_id}"
        for threshold in wanted.low_balance_thresholds_cents:
            if available < threshold:
                crossed.append((SpendAlert.Kind.LOW_BALANCE, threshold, period, available))
    return [alert for c in crossed if (alert := _record(account, *c)) is not None]


def _record(account, kind: str, threshold: int, period: str, amount: int) -> SpendAlert | None:
    try:
        with transaction.atomic():
            alert = SpendAlert.objects.create(
                account=account, kind=kind, threshold=threshold, period=period, amount_cents=amount
            )
    except IntegrityError:
        return None  # this crossing was recorded (and emailed) already
    transaction.on_commit(lambda: _email(alert.pk))
    return alert


def _email(alert_id: int) -> None:
    alert = SpendAlert.objects.select_related("account__user").get(pk=alert_id)
    account = alert.account
    amount = format_cents(alert.amount_cents, account.currency)
    if alert.kind == SpendAlert.Kind.BUDGET:
        subject = f"You have used {alert.threshold}% of your monthly budget"
        body = f"Your spend this month so far (including today's estimate) is {amount}."
    else:
        limit = format_cents(alert.threshold, account.currency)
        subject = f"Your Hopsworks credits are below {limit}"
        body = (
            f"Your available credits (balance minus today's estimate) are {amount}. Usage keeps "
            f"being recorded; buy credits at {settings.SITE_URL}/billing/credits/."
        )
    sent = send_mail(
        subject=subject,
        message=f"{body}\n\nChange your alerts at {settings.SITE_URL}/billing/.",
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[account.user.email],
        fail_silently=True,
    )
    if sent:
        SpendAlert.objects.filter(pk=alert.pk).update(emailed_at=timezone.now())


def spend_alerts_check_users(*, user_ids: set[int], now: datetime | None = None) -> int:
    """The alert and cap checks for every account among `user_ids` (after a sampler pass or a
    collection). The number of alerts recorded."""
    count = 0
    accounts = BillingAccount.objects.filter(user_id__in=user_ids).filter(
        Q(mode=BillingMode.PREPAID) | Q(budget__monthly_budget_cents__isnull=False)
    )
    now = now or timezone.now()
    for account in accounts.select_related("user"):
        spend = SpendNow(account, now)  # read once for both checks
        count += len(spend_alerts_check(account=account, now=now, spend=spend))
        spend_cap_check(account=account, now=now, spend=spend)
    return count
