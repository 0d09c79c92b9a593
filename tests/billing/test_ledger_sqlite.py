"""The ledger's portable path (the ORM, for SQLite and `make run`): the same rules as the one
PostgreSQL statement. Runs in a child process on a copy of the first-run SQLite database
(tests/first_run.py prepares it once for the suite)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

SCRIPT = """
from django.db import connection
from django.db.models import Sum
from accounts.models import User
from billing.ledger import (
    IdempotencyConflict, credits_deduct_usage, credits_grant, credits_record_purchase,
)
from billing.models import AccountStatus, BillingAccount, BillingMode, CreditTransaction

assert connection.vendor == "sqlite", connection.vendor
user = User.objects.create_user("ledger-sqlite@example.com")
BillingAccount.objects.filter(user=user).update(mode=BillingMode.PREPAID)
account = BillingAccount.objects.get(user=user)
staff = User.objects.filter(is_staff=True).first()

purchase = credits_record_purchase(account=account, amount_cents=1000, stripe_session_id="cs_sq")
assert credits_record_purchase(
    account=account, amount_cents=1000, stripe_session_id="cs_sq"
).pk == purchase.pk
try:
    credits_record_purchase(account=account, amount_cents=999, stripe_session_id="cs_sq")
    raise AssertionError("another amount under the same key was accepted")
except IdempotencyConflict:
    pass

first = credits_deduct_usage(account=account, usage_ref="usage_day:sq", cost_cents=1500)
assert (first.kind, first.amount_cents, first.balance_after_cents) == ("usage", -1500, -500)
assert credits_deduct_usage(account=account, usage_ref="usage_day:sq", cost_cents=1500) is None
again = credits_deduct_usage(account=account, usage_ref="usage_day:sq", cost_cents=1200)
assert (again.kind, again.amount_cents, again.idempotency_key) == (
    "adjustment", 300, "usage_day:sq:1",
)
account.refresh_from_db()
assert (account.balance_cents, account.status) == (-200, AccountStatus.IN_ARREARS)
credits_grant(
    account=account, amount_cents=500, idempotency_key="g-sq", reason="r", created_by=staff
)
account.refresh_from_db()
assert (account.balance_cents, account.status) == (300, AccountStatus.ACTIVE)
total = CreditTransaction.objects.filter(account=account).aggregate(s=Sum("amount_cents"))["s"]
assert total == account.balance_cents
print("ledger ok")
"""


def test_the_portable_ledger_path_keeps_the_rules_on_sqlite(first_run_prepared, tmp_path):
    env = dict(first_run_prepared)
    source = Path(env["DATABASE_URL"].removeprefix("sqlite:///"))
    copy = tmp_path / "ledger.sqlite3"
    shutil.copyfile(source, copy)
    env["DATABASE_URL"] = f"sqlite:///{copy}"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ledger ok" in result.stdout
