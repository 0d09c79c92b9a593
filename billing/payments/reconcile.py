"""Reconciliation with Stripe for one month (BILLING_TIME_ZONE): our ledger purchases against
paid Checkout Sessions, and our reported usage against Stripe's meter event summaries and
against what we measured. Each mismatch is one Discrepancy; none means consistent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Q, Sum

from billing.ledger.calendar import month_window, window_days
from billing.ledger.money import to_cents
from billing.models import BillingAccount, BillingMode, CreditTransaction, MeterReport
from billing.payments import gateway
from billing.payments.purchases import checkout_session_account_id
from usage.models import CollectionStatus, UsageDay

SESSION_PREFIX = "checkout_session:"
# Checkout Sessions live at most 24 h: one paid on the 1st may have been opened the day before.
SESSION_LOOKBACK = timedelta(days=2)


@dataclass(frozen=True)
class Discrepancy:
    kind: str
    ref: str
    ours: int | None
    stripe: int | None
    detail: str = ""
    account_id: int | None = None

    def __str__(self) -> str:
        who = f"account {self.account_id} " if self.account_id else ""
        return f"{self.kind}: {who}{self.ref} ours={self.ours} stripe={self.stripe} {self.detail}"


def stripe_reconcile(*, month: date) -> list[Discrepancy]:
    start, end = month_window(month)
    return _purchases(start, end) + _usage(start, end)


# --- purchases ------------------------------------------------------------------------------


def _purchases(start: datetime, end: datetime) -> list[Discrepancy]:
    sessions = {
        s.id: s
        for s in gateway.checkout_sessions_list(
            created_gte=int((start - SESSION_LOOKBACK).timestamp()),
            created_lt=int(end.timestamp()),
        )
        if s.get("mode") == "payment" and _ours(s)
    }
    grants = {
        tx.idempotency_key.removeprefix(SESSION_PREFIX): tx
        for tx in CreditTransaction.objects.filter(
            kind="purchase", idempotency_key__startswith=SESSION_PREFIX
        ).filter(
            Q(created_at__gte=start, created_at__lt=end)
            | Q(idempotency_key__in=[SESSION_PREFIX + sid for sid in sessions])
        )
    }
    found: list[Discrepancy] = []
    for sid, session in sessions.items():
        paid = session.get("payment_status") == "paid"
        in_month = start.timestamp() <= session.created < end.timestamp()
        tx = grants.get(sid)
        if paid and tx is None and in_month:
            found.append(
                Discrepancy(
                    "paid_session_not_granted",
                    sid,
                    None,
                    session.amount_total,
                    "a paid Checkout Session has no ledger purchase",
                    checkout_session_account_id(session),
                )
            )
        elif paid and tx is not None and tx.amount_cents != session.amount_total:
            found.append(
                Discrepancy(
                    "purchase_amount_mismatch",
                    sid,
                    tx.amount_cents,
                    session.amount_total,
                    "",
                    tx.account_id,
                )
            )
    for sid, tx in grants.items():
        if not (start <= tx.created_at < end):
            continue
        session = sessions.get(sid)
        if session is None or session.get("payment_status") != "paid":
            found.append(
                Discrepancy(
                    "granted_without_paid_session",
                    sid,
                    tx.amount_cents,
                    None,
                    "a ledger purchase whose Checkout Session Stripe does not show paid",
                    tx.account_id,
                )
            )
    return found


def _ours(session) -> bool:
    return checkout_session_account_id(session) is not None


# --- usage ----------------------------------------------------------------------------------


def _usage(start: datetime, end: datetime) -> list[Discrepancy]:
    accounts = (
        BillingAccount.objects.filter(
            Q(mode=BillingMode.POSTPAID, stripe_customer_id__isnull=False)
            | Q(meter_reports__timestamp__gte=start, meter_reports__timestamp__lt=end)
        )
        .exclude(stripe_customer_id="")
        .distinct()
        .order_by("pk")
    )
    found: list[Discrepancy] = []
    meter = None
    for account in accounts:
        rows = MeterReport.objects.filter(account=account, timestamp__gte=start, timestamp__lt=end)
        sent = rows.filter(status=MeterReport.Status.SENT).aggregate(v=Sum("value"))["v"] or 0
        measured = _measured_cents(account, start, end)
        if measured != sent:
            found.append(
                Discrepancy(
                    "usage_not_reported",
                    f"{start:%Y-%m}",
                    measured,
                    sent,
                    "measured vs sent to Stripe; unsent rows: " + _unsent(rows),
                    account.pk,
                )
            )
        if not account.stripe_customer_id:
            continue
        meter = meter or gateway.meter_find(event_name=settings.STRIPE_METER_EVENT_NAME)
        if meter is None:
            found.append(
                Discrepancy(
                    "meter_missing",
                    settings.STRIPE_METER_EVENT_NAME,
                    sent,
                    None,
                    "run manage.py setup_stripe",
                    account.pk,
                )
            )
            continue
        billed = gateway.meter_usage_total(
            meter_id=meter.id,
            customer_id=account.stripe_customer_id,
            start_time=int(start.timestamp()),
            end_time=int(end.timestamp()),
        )
        if billed != sent:
            found.append(
                Discrepancy(
                    "meter_total_mismatch",
                    account.stripe_customer_id,
                    sent,
                    billed,
                    "sent meter events vs Stripe's meter event summaries",
                    account.pk,
                )
            )
    return found


def _measured_cents(account: BillingAccount, start: datetime, end: datetime) -> int:
    first, last = window_days(start, end)
    total = UsageDay.objects.filter(
        user_id=account.user_id, status=CollectionStatus.COMPLETE, date__gte=first, date__lte=last
    ).aggregate(c=Sum("cost"))["c"]
    return to_cents(total or Decimal(0))


def _unsent(rows) -> str:
    counts = rows.exclude(status=MeterReport.Status.SENT).values("status").annotate(v=Sum("value"))
    return ", ".join(f"{c['status']} {c['v']}" for c in counts.order_by("status")) or "none"
