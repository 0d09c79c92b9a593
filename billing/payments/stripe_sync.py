"""Metered usage to Stripe: Billing Meters and meter events (usage records are gone since API
version 2025-03-31.basil).

Meter design: one sum meter, `hopsbill_usage_cents`, priced at 1 cent per unit. Each postpaid
account's complete usage day is sent as its cost in cents, so per-account custom prices,
price changes and every resource are billed exactly as we measured and priced them, without
a meter and a Stripe price per resource that would have to mirror our catalogue.

Whole units with the remainder carried: within a calendar month (BILLING_TIME_ZONE) a day's
target is round(C(d)) - round(C(d-1)), where C is the month's cumulative exact cost of
complete days, so the month's reported total is the measured total rounded once (within half
a cent), not the sum of daily roundings.

Per account and day, the report rows hold what was sent; a day's target minus its accounted
rows is what is left to do:
- positive: a new pending row, sent with its own identifier (a correction sends only the
  difference);
- negative (a re-collection lowered the cost): Stripe takes no negative meter events. If
  every sent event of the day is inside Stripe's 24 h cancel window, cancel them (meter event
  adjustment) and send the day's full value again; else record a `manual` row with the
  negative difference for staff to credit (a credit note), so it is neither lost nor resent;
- the day's noon older than Stripe's 35-day window: a `stale` row for staff, not sent.
Sending: pending rows, and failed ones whose backoff has passed. Stripe down or rate limiting
(429) marks the row failed and stops the run (nothing lost; the next run retries). Each
account is synced under a PostgreSQL advisory lock, so overlapping runs cannot both send.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from billing.ledger.accounts import billing_modes_on
from billing.ledger.calendar import LOOKBACK, day_noon
from billing.ledger.money import to_cents
from billing.models import BillingAccount, BillingMode, MeterReport
from billing.payments import gateway
from config.locks import advisory_lock
from usage.models import CollectionStatus, UsageDay

logger = logging.getLogger(__name__)

STRIPE_WINDOW = timedelta(days=35) - timedelta(hours=1)  # Stripe: timestamps within 35 days
CANCEL_WINDOW = timedelta(hours=23)  # Stripe: cancel within 24 h of receiving the event
BACKOFF_BASE = timedelta(minutes=15)
BACKOFF_MAX = timedelta(hours=12)
# How far back a nightly run looks for days to report or correct (beyond: stale anyway):
# billing.ledger.calendar.LOOKBACK, shared with the prepaid deduction sweeper.


@dataclass
class SyncResult:
    sent: int = 0
    failed: int = 0
    stale: int = 0
    manual: int = 0
    canceled: int = 0
    skipped_accounts: list[int] = field(default_factory=list)
    stopped: str = ""

    def as_dict(self) -> dict:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "stale": self.stale,
            "manual": self.manual,
            "canceled": self.canceled,
            "skipped_accounts": self.skipped_accounts,
            "stopped": self.stopped,
        }


def usage_sync_stripe(*, day: date | None = None, now: datetime | None = None) -> SyncResult:
    """Report the complete usage days of every account with a Stripe customer (or only `day`)
    that were postpaid days: a day the account spent prepaid is charged to credits instead."""
    now = now or timezone.now()
    result = SyncResult()
    if not gateway.is_configured():
        raise gateway.StripeNotConfigured("Stripe is not configured (set STRIPE_SECRET_KEY).")
    accounts = (
        BillingAccount.objects.filter(stripe_customer_id__isnull=False)
        .exclude(stripe_customer_id="")
        .select_related("user")
        .order_by("pk")
    )
    for account in accounts:
        try:
            with advisory_lock(f"hopsbill:stripe-sync:{account.pk}") as locked:
                if not locked:
                    result.skipped_accounts.append(account.pk)
                    continue
                account_sync_stripe(account=account, day=day, now=now, result=result)
        except gateway.StripeUnavailable as exc:
            result.stopped = str(exc)
            logger.warning("usage sync stopped: %s", exc)
            break
    return result


def account_sync_stripe(
    *, account: BillingAccount, day: date | None, now: datetime, result: SyncResult
) -> None:
    """Plan the account's rows, then send what is due. Raises StripeUnavailable to stop."""
    for usage_date, target in _day_targets(account, day, now).items():
        _plan_day(account, usage_date, target, now, result)
    due = MeterReport.objects.filter(account=account, status__in=["pending", "failed"])
    if day is not None:
        due = due.filter(usage_date=day)
    for report in due.order_by("usage_date", "revision"):
        waiting = report.next_attempt_at and report.next_attempt_at > now
        if report.status == MeterReport.Status.FAILED and waiting:
            continue
        _send(report, account, now, result)


# --- planning -------------------------------------------------------------------------------


def _day_targets(account: BillingAccount, day: date | None, now: datetime) -> dict[date, int]:
    """{usage date: whole cents to report}, the rounding remainder carried within each month."""
    if day is not None:
        first, last = day.replace(day=1), day
    else:
        first, last = (now - LOOKBACK).date().replace(day=1), now.date()
    rows = (
        UsageDay.objects.filter(
            user_id=account.user_id,
            status=CollectionStatus.COMPLETE,
            date__gte=first,
            date__lte=last,
        )
        .values("date")
        .annotate(cost=Sum("cost"))
        .order_by("date")
    )
    rows = list(rows)
    modes = billing_modes_on(account=account, days=[row["date"] for row in rows])
    rows = [row for row in rows if modes[row["date"]] == BillingMode.POSTPAID]
    targets: dict[date, int] = {}
    month, cumulative, reported = None, Decimal(0), 0
    for row in rows:
        if row["date"].replace(day=1) != month:
            month, cumulative, reported = row["date"].replace(day=1), Decimal(0), 0
        cumulative += row["cost"]
        rounded = to_cents(cumulative)
        targets[row["date"]] = rounded - reported
        reported = rounded
    if day is not None:
        return {day: targets[day]} if day in targets else {}
    return targets


def _plan_day(
    account: BillingAccount, usage_date: date, target: int, now: datetime, result: SyncResult
) -> None:
    reports = MeterReport.objects.filter(account=account, usage_date=usage_date)
    accounted = reports.filter(status__in=MeterReport.ACCOUNTED).aggregate(v=Sum("value"))["v"]
    delta = target - (accounted or 0)
    if delta == 0:
        return
    stamp = day_noon(usage_date)
    if stamp < now - STRIPE_WINDOW:
        _new_row(account, usage_date, delta, MeterReport.Status.STALE, _stale_note(delta))
        result.stale += 1
    elif delta > 0:
        _new_row(account, usage_date, delta, MeterReport.Status.PENDING)
    elif _cancellable(reports, now):
        _cancel_day(reports, now, result)
        if target > 0:
            _new_row(account, usage_date, target, MeterReport.Status.PENDING)
    else:
        _new_row(account, usage_date, delta, MeterReport.Status.MANUAL, _manual_note(delta))
        result.manual += 1


def _cancellable(reports, now: datetime) -> bool:
    """Every counted row is sent and inside Stripe's cancel window (none unsent or stale)."""
    counted = list(reports.filter(status__in=MeterReport.ACCOUNTED))
    return bool(counted) and all(
        r.status == MeterReport.Status.SENT and r.sent_at and r.sent_at >= now - CANCEL_WINDOW
        for r in counted
    )


def _cancel_day(reports, now: datetime, result: SyncResult) -> None:
    for report in reports.filter(status=MeterReport.Status.SENT).order_by("revision"):
        answer = gateway.meter_event_cancel(
            event_name=report.event_name, identifier=report.identifier
        )
        report.status = MeterReport.Status.CANCELED
        report.canceled_at = now
        report.stripe_response = {**report.stripe_response, "cancel": _jsonable(answer)}
        report.save(update_fields=["status", "canceled_at", "stripe_response", "updated_at"])
        result.canceled += 1


def _new_row(
    account: BillingAccount, usage_date: date, value: int, status: str, note: str = ""
) -> MeterReport:
    last = MeterReport.objects.filter(account=account, usage_date=usage_date).order_by("-revision")
    revision = last[0].revision + 1 if last else 0
    return MeterReport.objects.create(
        account=account,
        usage_date=usage_date,
        revision=revision,
        identifier=f"hopsbill-{account.pk}-{usage_date:%Y%m%d}-r{revision}",
        event_name=settings.STRIPE_METER_EVENT_NAME,
        value=value,
        timestamp=day_noon(usage_date),
        status=status,
        error=note,
    )


def _stale_note(delta: int) -> str:
    return (
        f"{delta:+d} cents not sent: the day is outside Stripe's 35-day meter event window. "
        "Bill or credit it by hand (invoice item or credit note)."
    )


def _manual_note(delta: int) -> str:
    return (
        f"Over-reported by {-delta} cents after a re-collection. Stripe meter events cannot be "
        "negative and the 24 h cancel window has passed: issue a credit note."
    )


# --- sending --------------------------------------------------------------------------------


def _send(report: MeterReport, account: BillingAccount, now: datetime, result: SyncResult):
    if report.timestamp < now - STRIPE_WINDOW:
        report.status, report.error = MeterReport.Status.STALE, _stale_note(report.value)
        report.save(update_fields=["status", "error", "updated_at"])
        result.stale += 1
        return
    report.attempts += 1
    try:
        answer = gateway.meter_event_create(
            event_name=report.event_name,
            customer_id=account.stripe_customer_id,
            value=report.value,
            identifier=report.identifier,
            timestamp=int(report.timestamp.timestamp()),
        )
    except gateway.StripeError as exc:
        _failed(report, now, exc)
        result.failed += 1
        if isinstance(exc, gateway.StripeUnavailable):
            raise
        return
    report.status, report.error, report.sent_at = MeterReport.Status.SENT, "", now
    report.next_attempt_at = None
    report.stripe_response = _jsonable(answer)
    report.save()
    result.sent += 1


def _failed(report: MeterReport, now: datetime, exc: Exception) -> None:
    delay = min(BACKOFF_BASE * 2 ** (report.attempts - 1), BACKOFF_MAX)
    report.status = MeterReport.Status.FAILED
    report.error = str(exc)[:2000]
    report.next_attempt_at = now + delay
    report.save(update_fields=["status", "error", "attempts", "next_attempt_at", "updated_at"])


def _jsonable(obj) -> dict:
    try:
        return obj.to_dict()  # StripeObject
    except AttributeError:
        return dict(obj or {})
