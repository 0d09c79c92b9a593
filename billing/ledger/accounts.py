"""Billing accounts and the prepaid switch."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction

from billing.ledger.calendar import day_start
from billing.ledger.errors import PrepaidSwitchedOff
from billing.models import BillingAccount, BillingMode, BillingModeChange


def billing_account_ensure(*, user) -> BillingAccount:
    """The user's billing account, created postpaid if missing. Every user-creating door calls
    this (user manager, admin, signup webhook, login)."""
    account, _ = BillingAccount.objects.get_or_create(
        user=user, defaults={"currency": settings.BILLING_CURRENCY}
    )
    return account


@transaction.atomic
def prepaid_enable(*, account: BillingAccount, changed_by=None, reason: str = "") -> BillingAccount:
    """Staff opt an account in to prepaid billing and switch it to prepaid."""
    if not settings.PREPAID_FEATURE_ENABLED:
        raise PrepaidSwitchedOff("Prepaid billing is switched off (PREPAID_FEATURE_ENABLED).")
    account = BillingAccount.objects.select_for_update().get(pk=account.pk)
    account.prepaid_enabled = True
    account.save(update_fields=["prepaid_enabled", "updated_at"])
    return _mode_set(account, BillingMode.PREPAID, changed_by, reason)


@transaction.atomic
def prepaid_disable(
    *, account: BillingAccount, changed_by=None, reason: str = ""
) -> BillingAccount:
    """Staff withdraw the opt-in; the account goes back to postpaid. Its credits stay on the
    ledger (visible, usable again if re-enabled). The Stripe side of the switch (the metered
    subscription) is billing.payments.subscriptions.postpaid_switch, which doors call."""
    account = BillingAccount.objects.select_for_update().get(pk=account.pk)
    account.prepaid_enabled = False
    account.save(update_fields=["prepaid_enabled", "updated_at"])
    return _mode_set(account, BillingMode.POSTPAID, changed_by, reason)


def prepaid_active(account: BillingAccount) -> bool:
    """The one "is prepaid" rule: the account bills prepaid and the feature is switched on."""
    return account.is_prepaid and settings.PREPAID_FEATURE_ENABLED


def _mode_set(account: BillingAccount, mode: str, changed_by, reason: str) -> BillingAccount:
    if account.mode == mode:
        return account
    BillingModeChange.objects.create(
        account=account, from_mode=account.mode, to_mode=mode, changed_by=changed_by, reason=reason
    )
    account.mode = mode
    account.save(update_fields=["mode", "updated_at"])
    return account


def billing_modes_on(*, account: BillingAccount, days: Iterable[date]) -> dict[date, str]:
    """The billing mode each day is billed in: the mode the account had at the end of that day
    (in BILLING_TIME_ZONE), from the recorded mode changes. A day is charged to the credit
    ledger (prepaid) or reported to Stripe (postpaid), never both, even across a switch."""
    changes = _mode_changes([account.pk]).get(account.pk, [])
    return {day: _mode_at(changes, account.mode, day) for day in days}


def billing_modes_on_day(*, accounts: Iterable[BillingAccount], day: date) -> dict[int, str]:
    """The same rule for many accounts on one day, in one query: {account id: mode}."""
    accounts = list(accounts)
    changes = _mode_changes([account.pk for account in accounts])
    return {a.pk: _mode_at(changes.get(a.pk, []), a.mode, day) for a in accounts}


def _mode_changes(account_ids: list[int]) -> dict[int, list[tuple[datetime, str, str]]]:
    rows = (
        BillingModeChange.objects.filter(account_id__in=account_ids)
        .order_by("created_at", "pk")
        .values_list("account_id", "created_at", "from_mode", "to_mode")
    )
    changes: dict[int, list[tuple[datetime, str, str]]] = {}
    for account_id, at, from_mode, to_mode in rows:
        changes.setdefault(account_id, []).append((at, from_mode, to_mode))
    return changes


def _mode_at(changes: list[tuple[datetime, str, str]], current: str, day: date) -> str:
    day_end = day_start(day + timedelta(days=1))
    applied = [to_mode for at, _, to_mode in changes if at < day_end]
    if applied:
        return applied[-1]
    return changes[0][1] if changes else current
