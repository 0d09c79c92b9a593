"""A usage day is billed in the mode the account had at the end of that day: charged to
credits or reported to Stripe, never both, even when staff switch the mode mid-month."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.ledger import (
    billing_account_ensure,
    billing_modes_on,
    credits_record_purchase,
    prepaid_disable,
    prepaid_enable,
)
from billing.models import BillingModeChange, CreditTransaction
from billing.payments.stripe_sync import usage_sync_stripe
from tests.billing.test_stripe_sync import accept_events, sent
from tests.factories import UsageDayFactory
from usage.services.collection import _deduct

DAYS = [date(2026, 11, d) for d in (9, 10, 11, 19, 20, 21)]


def switch(account, staff, *, to_prepaid: bool, at: datetime):
    service = prepaid_enable if to_prepaid else prepaid_disable
    account = service(account=account, changed_by=staff, reason="test")
    latest = BillingModeChange.objects.filter(account=account).latest("pk")
    BillingModeChange.objects.filter(pk=latest.pk).update(created_at=at)
    return account


@pytest.fixture
def switched_account(owner, staff):
    """Postpaid until 10 Nov 12:00, prepaid until 20 Nov 08:00, postpaid again after."""
    account = billing_account_ensure(user=owner)
    account.stripe_customer_id = "cus_sync"
    account.save()
    account = switch(account, staff, to_prepaid=True, at=datetime(2026, 11, 10, 12, tzinfo=UTC))
    return switch(account, staff, to_prepaid=False, at=datetime(2026, 11, 20, 8, tzinfo=UTC))


def test_an_account_never_switched_is_billed_in_its_mode_every_day(owner):
    account = billing_account_ensure(user=owner)
    assert set(billing_modes_on(account=account, days=DAYS).values()) == {"postpaid"}


def test_each_day_takes_the_mode_in_effect_at_its_end(switched_account):
    modes = billing_modes_on(account=switched_account, days=DAYS)
    assert [modes[d] for d in DAYS] == [
        "postpaid",
        "prepaid",
        "prepaid",
        "prepaid",
        "postpaid",
        "postpaid",
    ]


def test_a_switched_account_pays_each_day_once_through_one_channel(switched_account, stripe_http):
    credits_record_purchase(account=switched_account, amount_cents=10_000, stripe_session_id="cs")
    days = [
        UsageDayFactory(user=switched_account.user, date=d, cost=Decimal("1.00"), cost_cents=100)
        for d in DAYS
    ]
    accept_events(stripe_http)

    _deduct(days)
    usage_sync_stripe(now=datetime(2026, 11, 25, 3, tzinfo=UTC))

    charged = set(
        CreditTransaction.objects.filter(kind="usage").values_list("source_ref", flat=True)
    )
    assert charged == {f"usage_day:{d.pk}" for d in days if d.date in DAYS[1:4]}
    reported = [b["payload[value]"] for b in sent(stripe_http)]
    assert len(reported) == 3  # 9, 20 and 21 November, the postpaid days
