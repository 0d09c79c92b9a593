"""Many threads, one account, real PostgreSQL row locks: no lost update, no double posting."""

from __future__ import annotations

import pytest
from django.db.models import Count, Sum

from billing.ledger import (
    IdempotencyConflict,
    credits_deduct_usage,
    credits_grant,
    credits_record_purchase,
)
from billing.models import BillingAccount, CreditTransaction
from tests.concurrency import run_at_once

THREADS = 24


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_on_one_account_never_lose_an_update(prepaid_account, staff):
    account_id = prepaid_account.pk

    def work(i):
        account = BillingAccount.objects.get(pk=account_id)
        for j in range(5):
            credits_record_purchase(
                account=account, amount_cents=1000, stripe_session_id=f"cs_{i}_{j}"
            )
            credits_deduct_usage(
                account=account, usage_ref=f"usage_day:{i}-{j}", cost_cents=250 + j
            )
            # Every thread also replays a shared key: it must apply once in total.
            credits_grant(
                account=account,
                amount_cents=77,
                idempotency_key=f"shared-{j}",
                reason="race",
                created_by=staff,
            )

    _, errors = run_at_once(work, THREADS)
    assert errors == []
    account = BillingAccount.objects.get(pk=account_id)
    total = CreditTransaction.objects.filter(account=account).aggregate(s=Sum("amount_cents"))["s"]
    assert account.balance_cents == total
    expected = THREADS * sum(1000 - (250 + j) for j in range(5)) + 5 * 77
    assert total == expected
    duplicated = (
        CreditTransaction.objects.values("idempotency_key").annotate(n=Count("id")).filter(n__gt=1)
    )
    assert list(duplicated) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_reuse_of_a_key_with_other_amounts_applies_exactly_one(prepaid_account, staff):
    account_id = prepaid_account.pk
    conflicts = []

    def work(i):
        account = BillingAccount.objects.get(pk=account_id)
        try:
            credits_grant(
                account=account,
                amount_cents=100 + i,
                idempotency_key="one-key",
                reason="race",
                created_by=staff,
            )
        except IdempotencyConflict:
            conflicts.append(i)

    assert run_at_once(work, 20)[1] == []
    assert CreditTransaction.objects.filter(idempotency_key="one-key").count() == 1
    assert len(conflicts) == 19
    account = BillingAccount.objects.get(pk=account_id)
    assert account.balance_cents == CreditTransaction.objects.get().amount_cents
