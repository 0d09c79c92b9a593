from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from billing.ledger import (
    BillingError,
    IdempotencyConflict,
    InvalidAmount,
    credits_adjust,
    credits_balance,
    credits_deduct_usage,
    credits_expire,
    credits_grant,
    credits_record_purchase,
    credits_refund,
)
from billing.ledger.lots import lots_remaining
from billing.models import (
    AccountStatus,
    CreditTransaction,
    ImmutableRowError,
    TransactionKind,
)


def remaining(account) -> set[tuple[str, int]]:
    return {(lot.funding, lot.remaining_cents) for lot in lots_remaining(account_id=account.pk)}


def ledger_sum(account) -> int:
    return (
        CreditTransaction.objects.filter(account=account).aggregate(s=Sum("amount_cents"))["s"] or 0
    )


def test_purchase_adds_paid_credits(prepaid_account):
    tx = credits_record_purchase(
        account=prepaid_account, amount_cents=2500, stripe_session_id="cs_1"
    )
    assert tx.kind == TransactionKind.PURCHASE
    assert tx.balance_after_cents == 2500
    assert credits_balance(account=prepaid_account) == 2500
    assert remaining(prepaid_account) == {("paid", 2500)}


def test_same_key_returns_existing_and_writes_nothing(prepaid_account):
    first = credits_record_purchase(
        account=prepaid_account, amount_cents=2500, stripe_session_id="cs_1"
    )
    again = credits_record_purchase(
        account=prepaid_account, amount_cents=2500, stripe_session_id="cs_1"
    )
    assert again.pk == first.pk
    assert CreditTransaction.objects.count() == 1
    assert credits_balance(account=prepaid_account) == 2500


def test_same_key_with_other_amount_is_an_error(prepaid_account):
    credits_record_purchase(account=prepaid_account, amount_cents=2500, stripe_session_id="cs_1")
    with pytest.raises(IdempotencyConflict):
        credits_record_purchase(
            account=prepaid_account, amount_cents=9900, stripe_session_id="cs_1"
        )
    assert CreditTransaction.objects.count() == 1
    assert credits_balance(account=prepaid_account) == 2500


@pytest.mark.parametrize("amount", [0, -5, 10_000_001, 1.5, "100", True])
def test_bad_amounts_are_refused_and_nothing_written(prepaid_account, staff, amount):
    with pytest.raises(InvalidAmount):
        credits_grant(
            account=prepaid_account,
            amount_cents=amount,
            idempotency_key="k",
            reason="r",
            created_by=staff,
        )
    assert CreditTransaction.objects.count() == 0


def test_grant_needs_a_reason(prepaid_account, staff):
    with pytest.raises(BillingError):
        credits_grant(account=prepaid_account, amount_cents=100, idempotency_key="k", reason=" ")


def test_adjust_needs_staff(prepaid_account, owner, staff):
    with pytest.raises(BillingError):
        credits_adjust(
            account=prepaid_account,
            amount_cents=100,
            reason="x",
            created_by=owner,
            idempotency_key="adj",
        )
    tx = credits_adjust(
        account=prepaid_account,
        amount_cents=-100,
        reason="goodwill reversal",
        created_by=staff,
        idempotency_key="adj",
    )
    assert tx.created_by == staff and tx.reason == "goodwill reversal"


def test_usage_goes_past_zero_and_account_falls_into_arrears(prepaid_account):
    credits_record_purchase(account=prepaid_account, amount_cents=1000, stripe_session_id="cs_1")
    credits_deduct_usage(account=prepaid_account, usage_ref="usage_day:1", cost_cents=1500)
    prepaid_account.refresh_from_db()
    assert prepaid_account.balance_cents == -500
    assert prepaid_account.status == AccountStatus.IN_ARREARS
    credits_record_purchase(account=prepaid_account, amount_cents=2000, stripe_session_id="cs_2")
    prepaid_account.refresh_from_db()
    assert prepaid_account.balance_cents == 1500
    assert prepaid_account.status == AccountStatus.ACTIVE
    # The purchase paid off the 500 uncovered first: its lot holds what is left.
    assert remaining(prepaid_account) == {("paid", 1500)}


def test_usage_rerun_same_cost_writes_nothing_and_changed_cost_posts_difference(prepaid_account):
    credits_record_purchase(account=prepaid_account, amount_cents=5000, stripe_session_id="cs_1")
    first = credits_deduct_usage(account=prepaid_account, usage_ref="usage_day:7", cost_cents=1200)
    assert first.kind == TransactionKind.USAGE and first.amount_cents == -1200
    assert (
        credits_deduct_usage(account=prepaid_account, usage_ref="usage_day:7", cost_cents=1200)
        is None
    )
    adjustment = credits_deduct_usage(
        account=prepaid_account, usage_ref="usage_day:7", cost_cents=1500
    )
    assert adjustment.kind == TransactionKind.ADJUSTMENT and adjustment.amount_cents == -300
    back = credits_deduct_usage(account=prepaid_account, usage_ref="usage_day:7", cost_cents=1200)
    assert back.amount_cents == 300
    assert credits_balance(account=prepaid_account) == 5000 - 1200
    assert ledger_sum(prepaid_account) == 5000 - 1200


def test_usage_consumes_promotional_before_paid_earliest_expiry_first(fund, prepaid_account):
    now = timezone.now()
    credits_record_purchase(account=prepaid_account, amount_cents=1000, stripe_session_id="cs_1")
    late = fund(500, key="g-late", reason="promo", expires_at=now + timedelta(days=60))
    soon = fund(300, key="g-soon", reason="promo", expires_at=now + timedelta(days=5))
    credits_deduct_usage(account=prepaid_account, usage_ref="usage_day:1", cost_cents=600)
    lots = {
        lot.transaction_id: lot.remaining_cents
        for lot in lots_remaining(account_id=prepaid_account.pk)
    }
    assert soon.pk not in lots
    assert lots[late.pk] == 200
    assert remaining(prepaid_account) == {("promotional", 200), ("paid", 1000)}


def test_expiry_posts_the_unused_promotional_remainder_once(fund, prepaid_account):
    now = timezone.now()
    grant = fund(800, key="g1", reason="promo", expires_at=now + timedelta(days=1))
    credits_record_purchase(account=prepaid_account, amount_cents=1000, stripe_session_id="cs_1")
    credits_deduct_usage(account=prepaid_account, usage_ref="usage_day:1", cost_cents=300)
    posted = credits_expire(now=now + timedelta(days=2))
    assert [tx.amount_cents for tx in posted] == [-500]
    assert posted[0].kind == TransactionKind.EXPIRY
    assert credits_expire(now=now + timedelta(days=3)) == []
    assert grant.pk not in {
        lot.transaction_id for lot in lots_remaining(account_id=prepaid_account.pk)
    }
    assert credits_balance(account=prepaid_account) == 1000 == ledger_sum(prepaid_account)


def test_refund_removes_paid_credits(prepaid_account, staff):
    credits_record_purchase(account=prepaid_account, amount_cents=1000, stripe_session_id="cs_1")
    credits_grant(
        account=prepaid_account, amount_cents=500, idempotency_key="g", reason="p", created_by=staff
    )
    credits_refund(
        account=prepaid_account, amount_cents=400, idempotency_key="re_1", reason="refund"
    )
    assert remaining(prepaid_account) == {("paid", 600), ("promotional", 500)}


def test_transactions_cannot_be_changed_or_deleted(prepaid_account):
    tx = credits_record_purchase(
        account=prepaid_account, amount_cents=100, stripe_session_id="cs_1"
    )
    tx.amount_cents = 1_000_000
    with pytest.raises(ImmutableRowError):
        tx.save()
    with pytest.raises(ImmutableRowError):
        tx.delete()
    with pytest.raises(ImmutableRowError):
        CreditTransaction.objects.filter(pk=tx.pk).update(amount_cents=5)
    with pytest.raises(ImmutableRowError):
        CreditTransaction.objects.all().delete()


def test_database_refuses_raw_updates_of_the_ledger(prepaid_account):
    tx = credits_record_purchase(
        account=prepaid_account, amount_cents=100, stripe_session_id="cs_1"
    )
    with (
        pytest.raises(Exception, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute("UPDATE billing_credittransaction SET amount_cents = 5 WHERE id = %s", [tx.pk])
