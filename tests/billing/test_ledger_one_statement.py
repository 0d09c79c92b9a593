"""The ledger posting as one statement, outside any transaction (as the nightly collection,
webhooks and the bench call it): the statement is its own transaction, except when the balance
crosses zero and the status rule must be written with it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from billing.ledger import (
    IdempotencyConflict,
    credits_deduct_usage,
    credits_grant,
    credits_record_purchase,
)
from billing.models import AccountStatus, BillingAccount, CreditTransaction, TransactionKind
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db(transaction=True)


def ledger_sum(account_id: int) -> int:
    rows = CreditTransaction.objects.filter(account_id=account_id)
    return rows.aggregate(s=Sum("amount_cents"))["s"] or 0


def test_a_posting_is_one_statement_and_returns_the_new_balance(prepaid_account):
    credits_record_purchase(account=prepaid_account, amount_cents=5000, stripe_session_id="cs_1")
    with CaptureQueriesContext(connection) as queries:
        tx = credits_deduct_usage(account=prepaid_account, usage_ref="usage_day:1", cost_cents=700)
    assert len(queries.captured_queries) == 1
    assert tx.balance_after_cents == 4300 and tx.account.balance_cents == 4300
    assert BillingAccount.objects.get(pk=prepaid_account.pk).balance_cents == 4300


def test_crossing_zero_outside_a_transaction_moves_the_status_with_the_posting(prepaid_account):
    credits_record_purchase(account=prepaid_account, amount_cents=1000, stripe_session_id="cs_1")
    tx = credits_deduct_usage(account=prepaid_account, usage_ref="usage_day:1", cost_cents=1500)
    assert tx.balance_after_cents == -500
    assert tx.account.status == AccountStatus.IN_ARREARS
    account = BillingAccount.objects.get(pk=prepaid_account.pk)
    assert (account.balance_cents, account.status) == (-500, AccountStatus.IN_ARREARS)
    credits_record_purchase(account=prepaid_account, amount_cents=2000, stripe_session_id="cs_2")
    account.refresh_from_db()
    assert (account.balance_cents, account.status) == (1500, AccountStatus.ACTIVE)
    assert ledger_sum(account.pk) == 1500


def test_a_status_already_out_of_step_is_put_right_by_the_next_posting(prepaid_account):
    BillingAccount.objects.filter(pk=prepaid_account.pk).update(balance_cents=-300)
    CreditTransaction.objects.create(
        account=prepaid_account,
        kind=TransactionKind.ADJUSTMENT,
        amount_cents=-300,
        balance_after_cents=-300,
        idempotency_key="setup",
    )
    credits_deduct_usage(account=prepaid_account, usage_ref="usage_day:1", cost_cents=100)
    account = BillingAccount.objects.get(pk=prepaid_account.pk)
    assert (account.balance_cents, account.status) == (-400, AccountStatus.IN_ARREARS)


def test_a_replayed_key_returns_the_stored_row_and_another_amount_is_refused(
    prepaid_account, staff
):
    def grant(amount_cents: int):
        return credits_grant(
            account=prepaid_account,
            amount_cents=amount_cents,
            idempotency_key="promo-1",
            reason="welcome",
            created_by=staff,
        )

    first = grant(500)
    assert grant(500).pk == first.pk
    with pytest.raises(IdempotencyConflict):
        grant(600)
    assert CreditTransaction.objects.filter(idempotency_key="promo-1").count() == 1
    assert BillingAccount.objects.get(pk=prepaid_account.pk).balance_cents == 500


def test_the_same_usage_day_charged_at_once_is_charged_once(prepaid_account):
    credits_record_purchase(account=prepaid_account, amount_cents=9000, stripe_session_id="cs_1")

    def charge(_i: int):
        account = BillingAccount.objects.get(pk=prepaid_account.pk)
        return credits_deduct_usage(account=account, usage_ref="usage_day:9", cost_cents=1234)

    results, errors = run_at_once(charge, 8)
    assert errors == []
    assert len([tx for tx in results if tx is not None]) == 1
    assert ledger_sum(prepaid_account.pk) == 9000 - 1234
    account = BillingAccount.objects.get(pk=prepaid_account.pk)
    assert account.balance_cents == 9000 - 1234
