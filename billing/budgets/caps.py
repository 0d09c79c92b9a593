"""Spend caps that pause work: a hard monthly budget reached by the month's spend (collected
days plus today's estimate), or a prepaid account without auto top-up whose available credits
(balance - today's estimate) fall below zero, pauses the account. A SpendPause row is the
decision; accounts.suspension stops the running deployments and job executions to match (a
PAUSE run: the user is not blocked) and lifts it (UNPAUSE).

1. `spend_cap_check` runs where the estimate is written (after each sampler pass, with the
   alerts), after the nightly collection, when the user saves their budget, and from the
   suspension sweep for every open pause (so the new month lifts without a sampler pass).
2. A crossing inserts the open SpendPause (at most one open per account, a unique condition:
   concurrent passes make one), emails the user once after commit, and queues the user's
   suspension sync, which starts the PAUSE run.
3. A stale estimate (a cluster unreachable) never triggers: it counts as zero, so while it is
   stale only posted figures (collected days, the prepaid balance) can reach the cap.
4. A lift never waits for spend to go down (it dips after midnight until the day is
   collected): a hard-cap pause lifts when hard is turned off or the budget removed, when the
   budget is raised above both the spend now and the spend at the pause, or in a new month; a
   prepaid pause when the account is no longer prepaid, auto top-up is on, or credits were
   added after the pause and available is back at or above zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.budgets.auto_topup import auto_topup_is_on
from billing.budgets.spend import SpendNow
from billing.ledger.accounts import prepaid_active
from billing.ledger.calendar import billing_today
from billing.ledger.money import format_cents
from billing.models import BillingAccount, BudgetSettings, SpendPause
from jobs.services import task_enqueue

Reason = SpendPause.Reason


@dataclass(frozen=True)
class Crossing:
    reason: str
    period: str
    amount_cents: int
    limit_cents: int


def spend_pause_open(*, account: BillingAccount) -> SpendPause | None:
    return SpendPause.objects.filter(account=account, lifted_at__isnull=True).first()


def spend_cap_check(
    *, account: BillingAccount, now: datetime | None = None, spend: SpendNow | None = None
) -> SpendPause | None:
    """Open or lift the account's pause as its spend asks (module docstring); returns the
    pause it opened or lifted, else None."""
    now = now or timezone.now()
    spend = spend or SpendNow(account, now)
    current = spend_pause_open(account=account)
    if current is None:
        crossing = _crossing(account, spend)
        return _open(account, crossing) if crossing else None
    reason = _lift_reason(account, current, spend)
    return _lift(current, reason, now) if reason else None


def spend_caps_recheck(*, now: datetime | None = None) -> int:
    """Beat (with the suspension sweep): check every open pause, so a new month or a lapsed
    cause lifts it without waiting for a sampler pass. The number lifted."""
    open_pauses = SpendPause.objects.filter(lifted_at__isnull=True).values("account_id")
    paused = BillingAccount.objects.filter(pk__in=open_pauses).select_related("user")
    return sum(spend_cap_check(account=account, now=now) is not None for account in paused)


def _hard_budget(account: BillingAccount) -> int | None:
    row = BudgetSettings.objects.filter(account=account, hard_cap=True).first()
    return row.monthly_budget_cents if row else None


def _month(now: datetime) -> str:
    return f"{billing_today(now):%Y-%m}"


def _estimate_cents(spend: SpendNow) -> int:
    """Today's estimate as far as caps trust it: a stale one counts as zero."""
    return 0 if spend.stale else spend.estimate_cents


def _month_spend(spend: SpendNow) -> int:
    return spend.collected_cents + _estimate_cents(spend)


def _available(spend: SpendNow) -> int:
    return spend.account.balance_cents - _estimate_cents(spend)


def _prepaid_pausable(account: BillingAccount) -> bool:
    # Exempt users are never paused automatically for credits; a hard cap is their own choice.
    return (
        prepaid_active(account)
        and not auto_topup_is_on(account=account)
        and not account.user.suspension_exempt
    )


def _crossing(account: BillingAccount, spend: SpendNow) -> Crossing | None:
    budget = _hard_budget(account)
    if budget is not None and (spent := _month_spend(spend)) >= budget:
        return Crossing(Reason.HARD_CAP, _month(spend.now), spent, budget)
    if _prepaid_pausable(account) and (available := _available(spend)) < 0:
        return Crossing(Reason.PREPAID_AVAILABLE, f"after-tx:{spend.last_credit_id}", available, 0)
    return None


def _lift_reason(account: BillingAccount, pause: SpendPause, spend: SpendNow) -> str:
    if pause.reason == Reason.HARD_CAP:
        budget = _hard_budget(account)
        if budget is None:
            return "The hard cap was turned off."
        if pause.period != _month(spend.now):
            return "A new month began."
        if budget > max(pause.amount_cents, _month_spend(spend)):
            return "The budget was raised above the spend."
        return ""
    if not _prepaid_pausable(account):
        return "Credits no longer pause this account."
    credited = pause.period != f"after-tx:{spend.last_credit_id}"
    return "Credits were added." if credited and _available(spend) >= 0 else ""


def _open(account: BillingAccount, crossing: Crossing) -> SpendPause | None:
    try:
        with transaction.atomic():
            pause = SpendPause.objects.create(
                account=account,
                reason=crossing.reason,
                period=crossing.period,
                amount_cents=crossing.amount_cents,
                limit_cents=crossing.limit_cents,
            )
    except IntegrityError:
        return None  # a concurrent check opened it (and emails it)
    suspension_sync_request(user_id=account.user_id)
    transaction.on_commit(lambda: _email(pause.pk))
    return pause


def _lift(pause: SpendPause, reason: str, now: datetime) -> SpendPause | None:
    lifted = SpendPause.objects.filter(pk=pause.pk, lifted_at__isnull=True).update(
        lifted_at=now, lift_reason=reason
    )
    if not lifted:
        return None  # a concurrent check lifted it
    suspension_sync_request(user_id=pause.account.user_id)
    pause.refresh_from_db()
    return pause


def suspension_sync_request(*, user_id: int) -> None:
    """Ask accounts.suspension to bring the user's suspension or pause in line now (billing
    cannot import accounts: a recorded task, so a broker outage only delays it). One key per
    user, whoever asks: a pause, a lift, a payment webhook."""
    task_enqueue(
        "accounts.tasks.suspension_sync_user", args=[user_id], key=f"suspension-sync:{user_id}"
    )


def _email(pause_id: int) -> None:
    pause = SpendPause.objects.select_related("account__user").get(pk=pause_id)
    if pause.emailed_at is not None:
        return
    currency = pause.account.currency
    amount = format_cents(pause.amount_cents, currency)
    if pause.reason == Reason.HARD_CAP:
        cause = (
            f"Your spend this month (today's estimate included) is {amount}, which reaches "
            f"your hard monthly budget of {format_cents(pause.limit_cents, currency)}."
        )
        lift = "Raise the budget or turn the hard cap off, or wait for the new month"
    else:
        cause = f"Your available credits (balance minus today's estimate) are {amount}."
        lift = f"Buy credits at {settings.SITE_URL}/billing/credits/"
    sent = send_mail(
        subject="Your running Hopsworks work is paused by your spend cap",
        message=(
            f"{cause} Your running model deployments and job executions are being stopped; "
            f"you can still log in. {lift}, then start again what you need. What was "
            f"stopped is listed at {settings.SITE_URL}/billing/."
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[pause.account.user.email],
        fail_silently=True,
    )
    if sent:
        SpendPause.objects.filter(pk=pause.pk).update(emailed_at=timezone.now())
