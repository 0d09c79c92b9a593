from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.models import CreditTransaction, TransactionKind
from usage.models import UsageDay


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_grant_credits_and_balance(prepaid_account):
    out = run("grant_credits", "owner@example.com", "12.50", "--reason", "support goodwill")
    assert "Granted $12.50" in out
    tx = CreditTransaction.objects.get()
    assert tx.kind == TransactionKind.GRANT and tx.amount_cents == 1250
    assert "balance $12.50" in run("balance", "owner@example.com")


@pytest.mark.parametrize(
    "args",
    [
        ("nobody@example.com", "10", "--reason", "x"),
        ("owner@example.com", "-10", "--reason", "x"),
        ("owner@example.com", "0", "--reason", "x"),
        ("owner@example.com", "10.001", "--reason", "x"),
        ("owner@example.com", "abc", "--reason", "x"),
        ("owner@example.com", "999999999", "--reason", "x"),
    ],
)
def test_grant_credits_bad_input_changes_nothing(prepaid_account, args):
    with pytest.raises(CommandError):
        run("grant_credits", *args)
    assert CreditTransaction.objects.count() == 0


def test_expire_credits_command(prepaid_account):
    run(
        "grant_credits",
        "owner@example.com",
        "5",
        "--reason",
        "promo",
        "--expires-at",
        "2020-01-01T00:00:00",
    )
    assert "Expired 1 grant" in run("expire_credits")
    prepaid_account.refresh_from_db()
    assert prepaid_account.balance_cents == 0


def test_demo_loads_and_reruns_without_duplicates(db):
    run("demo")
    days = UsageDay.objects.count()
    txs = CreditTransaction.objects.count()
    assert days == 60
    run("demo")
    assert UsageDay.objects.count() == days
    assert CreditTransaction.objects.count() == txs


def test_demo_refuses_to_run_in_production(db, settings):
    settings.IS_PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        run("demo")
    assert not UsageDay.objects.exists()
