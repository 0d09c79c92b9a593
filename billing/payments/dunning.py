"""Dunning: what happens between a failed invoice payment and a suspension.

1. `invoice.payment_failed` for a postpaid account opens a case (one open case per account;
   Stripe's Smart Retries fail again and again on the same case, they do not restart it) with
   a grace period of DUNNING_GRACE_DAYS, and the day-0 reminder.
2. A beat job sends the day-3 and last-day reminders. Each reminder is a row (unique per case
   and kind) written before the email is sent, so each goes out once; a row a crash left
   unsent is sent by the next pass.
3. When the grace period is over the account is suspended (accounts.suspension_sync reads
   `dunning_overdue`).
4. `invoice.paid` for the case's invoice closes it; the suspension is then lifted.

We never retry the payment ourselves: Stripe's Smart Retries keep going during the grace
period, and their `invoice.paid` ends it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.ledger.money import format_cents
from billing.models import BillingAccount, DunningCase, DunningReminder

logger = logging.getLogger(__name__)

OPEN = [DunningCase.Status.OPEN, DunningCase.Status.OVERDUE]
UNSENT_AFTER = timedelta(minutes=5)


@transaction.atomic
def dunning_payment_failed(
    *, account: BillingAccount, invoice: dict, now: datetime | None = None
) -> DunningCase | None:
    """Open the account's case (or keep the open one) and send the day-0 reminder once."""
    now = now or timezone.now()
    account = BillingAccount.objects.select_for_update().get(pk=account.pk)
    if account.is_prepaid:
        return None
    case = DunningCase.objects.filter(account=account, status__in=OPEN).first()
    if case is None:
        invoice_id = str(invoice.get("id") or "")
        if DunningCase.objects.filter(
            account=account, stripe_invoice_id=invoice_id, status=DunningCase.Status.PAID
        ).exists():
            return None  # a late failure of an invoice that is paid since
        case = DunningCase.objects.create(
            account=account,
            stripe_invoice_id=invoice_id,
            amount_due_cents=int(invoice.get("amount_due") or 0),
            currency=str(invoice.get("currency") or account.currency),
            started_at=now,
            grace_ends_at=now + timedelta(days=settings.DUNNING_GRACE_DAYS),
        )
    _remind(case, DunningReminder.Kind.FIRST)
    return case


@transaction.atomic
def dunning_invoice_paid(*, account: BillingAccount, invoice: dict) -> DunningCase | None:
    """Close the case of this invoice (paid, by a Smart Retry or by the user)."""
    case = (
        DunningCase.objects.select_for_update()
        .filter(account=account, status__in=OPEN, stripe_invoice_id=str(invoice.get("id")))
        .first()
    )
    if case is None:
        return None
    case.status = DunningCase.Status.PAID
    case.closed_at = timezone.now()
    case.save(update_fields=["status", "closed_at", "updated_at"])
    return case


def dunning_overdue(*, account: BillingAccount, now: datetime | None = None) -> DunningCase | None:
    """The account's open case whose grace period is over, if any."""
    now = now or timezone.now()
    return DunningCase.objects.filter(
        account=account, status__in=OPEN, grace_ends_at__lte=now
    ).first()


def dunning_remind_due(*, now: datetime | None = None) -> int:
    """Beat: send the reminders that are due (and any a crash left unsent); mark cases whose
    grace period is over. Returns the number of emails sent."""
    now = now or timezone.now()
    for case in DunningCase.objects.filter(status=DunningCase.Status.OPEN):
        with transaction.atomic():
            if now >= case.started_at + timedelta(days=3):
                _remind(case, DunningReminder.Kind.MIDDLE)
            if now >= case.grace_ends_at - timedelta(days=1):
                _remind(case, DunningReminder.Kind.LAST)
            if now >= case.grace_ends_at:
                DunningCase.objects.filter(pk=case.pk, status=DunningCase.Status.OPEN).update(
                    status=DunningCase.Status.OVERDUE, updated_at=now
                )
    unsent = DunningReminder.objects.filter(
        sent_at__isnull=True, created_at__lt=now - UNSENT_AFTER
    ).select_related("case__account__user")
    return sum(_send(reminder.pk) for reminder in unsent)


def _remind(case: DunningCase, kind: str) -> None:
    """Record the reminder (once per case and kind) and send it after commit."""
    try:
        with transaction.atomic():
            reminder = DunningReminder.objects.create(case=case, kind=kind)
    except IntegrityError:
        return  # recorded before: sent, or left for the beat job
    transaction.on_commit(lambda: _send(reminder.pk))


def _send(reminder_id: int) -> int:
    """Send one reminder unless it was sent; claim it first so two senders send it once."""
    claimed = DunningReminder.objects.filter(pk=reminder_id, sent_at__isnull=True).update(
        sent_at=timezone.now()
    )
    if not claimed:
        return 0
    reminder = DunningReminder.objects.select_related("case__account__user").get(pk=reminder_id)
    subject, message = _message(reminder)
    try:
        send_mail(
            subject=subject,
            message=message,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[reminder.case.account.user.email],
        )
    except Exception:  # noqa: BLE001 - the next pass sends it again
        logger.warning("dunning reminder %s not sent", reminder_id, exc_info=True)
        DunningReminder.objects.filter(pk=reminder_id).update(sent_at=None)
        return 0
    return 1


def _message(reminder: DunningReminder) -> tuple[str, str]:
    case = reminder.case
    amount = format_cents(case.amount_due_cents, case.currency)
    deadline = case.grace_ends_at.strftime("%Y-%m-%d %H:%M %Z")
    fix = f"Add or update your card at {settings.SITE_URL}/billing/ (Manage payment method)."
    stop = (
        f"If it is still unpaid on {deadline}, your running model deployments and jobs will be "
        "stopped and your Hopsworks access blocked until it is paid."
    )
    if reminder.kind == DunningReminder.Kind.FIRST:
        return (
            "Payment failed for your Hopsworks invoice",
            f"We could not collect {amount} for invoice {case.stripe_invoice_id}. "
            f"Stripe will retry the payment. {fix} {stop}",
        )
    if reminder.kind == DunningReminder.Kind.MIDDLE:
        return (
            "Reminder: your Hopsworks invoice is unpaid",
            f"Invoice {case.stripe_invoice_id} ({amount}) is still unpaid. {fix} {stop}",
        )
    return (
        "Last day: your Hopsworks invoice is unpaid",
        f"Invoice {case.stripe_invoice_id} ({amount}) is still unpaid. {fix} {stop}",
    )
