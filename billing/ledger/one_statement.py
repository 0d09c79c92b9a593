"""A ledger posting as one PostgreSQL statement: lock the account row, decide the amount, insert
the transaction unless its idempotency key is taken, move the cached balance. One round trip
instead of five; the row lock is held only while the server runs it.

Steps, all in one data-modifying CTE (sub-statements share one snapshot):
1. `acct`: SELECT ... FOR UPDATE of the account; after waiting for a concurrent writer the
   locked row is the latest committed version, so its balance is current.
2. `posting`: the amount, kind, key and reason. For a usage charge they depend on what the
   ledger already holds for the usage reference (the difference to the cost, revision n).
3. `ins`: INSERT ... ON CONFLICT (idempotency_key) DO NOTHING. The conflict check sees rows
   committed after the snapshot, so a key taken by a concurrent writer inserts nothing instead
   of aborting the transaction; the caller then reads the stored row.
4. `upd`: the balance moves only when a row was inserted.
The caller applies the Python rules (status) on the returned account. Run outside a
transaction (`may_cross_zero` false) the statement is its own transaction and refuses a posting
that takes the balance across zero, where the status may change: the caller runs that one
again in a transaction, with the status rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.db import connection

from billing.models import BillingAccount, CreditTransaction

_PLAIN = """SELECT CAST(%(amount_cents)s AS BIGINT) AS amount_cents, %(kind)s AS kind,
        %(idempotency_key)s AS idempotency_key, %(reason)s AS reason, TRUE AS allowed"""

# The ledger's rows for this usage reference as of the statement's snapshot; a concurrent
# charge of the same day committed while we waited for the lock shows up as a key conflict.
_USAGE = """SELECT -CAST(%(cost)s AS BIGINT) - charged AS amount_cents,
        CASE WHEN postings = 0 THEN %(kind)s ELSE %(later_kind)s END AS kind,
        %(source_ref)s || ':' || postings AS idempotency_key,
        CASE WHEN postings = 0 THEN %(reason)s ELSE %(later_reason)s END AS reason,
        abs(CAST(%(cost)s AS BIGINT) + charged) <= %(max_amount)s AS allowed
    FROM (SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) AS charged, COUNT(*) AS postings
          FROM {ledger} WHERE source_ref = %(source_ref)s) AS charges"""

_STATEMENT = """WITH acct AS (
    SELECT id, balance_cents FROM {accounts} WHERE id = %(account)s FOR UPDATE
), posting AS (
    {posting}
), ins AS (
    INSERT INTO {ledger} ({insert_columns})
    SELECT acct.id, posting.kind, posting.amount_cents, acct.balance_cents + posting.amount_cents,
        posting.idempotency_key, %(funding)s, CAST(%(expires_at)s AS TIMESTAMPTZ), %(source_ref)s,
        CAST(%(created_by)s AS BIGINT), posting.reason, CAST(%(now)s AS TIMESTAMPTZ)
    FROM acct, posting
    WHERE posting.amount_cents <> 0 AND posting.allowed
        AND (%(may_cross_zero)s OR NOT {crosses_zero})
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING {ledger_columns}
), upd AS (
    UPDATE {accounts} AS a
    SET balance_cents = a.balance_cents + ins.amount_cents,
        updated_at = CAST(%(now)s AS TIMESTAMPTZ)
    FROM ins WHERE a.id = ins.account_id
    RETURNING {account_columns}
)
SELECT posting.amount_cents, posting.idempotency_key, {crosses_zero},
    {ins_columns}, {upd_columns}
FROM acct CROSS JOIN posting LEFT JOIN ins ON true LEFT JOIN upd ON true"""

_CROSSES_ZERO = "((acct.balance_cents < 0) <> (acct.balance_cents + posting.amount_cents < 0))"

_INSERTED = (
    "account_id kind amount_cents balance_after_cents idempotency_key funding expires_at"
    " source_ref created_by_id reason created_at"
).split()


@dataclass(frozen=True)
class Outcome:
    """What the statement did: the amount and key it decided, whether that takes the balance
    across zero, and the new row and the account after it (both None when nothing was
    inserted)."""

    amount_cents: int
    idempotency_key: str
    crosses_zero: bool
    transaction: CreditTransaction | None
    account: BillingAccount | None


def _fields(model) -> list[str]:
    return [field.column for field in model._meta.concrete_fields]


@cache
def _sql(usage: bool) -> str:
    accounts, ledger = BillingAccount._meta.db_table, CreditTransaction._meta.db_table
    ledger_fields, account_fields = _fields(CreditTransaction), _fields(BillingAccount)
    posting = (_USAGE if usage else _PLAIN).format(ledger=ledger)
    return _STATEMENT.format(
        accounts=accounts,
        ledger=ledger,
        posting=posting,
        crosses_zero=_CROSSES_ZERO,
        insert_columns=", ".join(_INSERTED),
        ledger_columns=", ".join(ledger_fields),
        account_columns=", ".join(f"a.{column}" for column in account_fields),
        ins_columns=", ".join(f"ins.{column}" for column in ledger_fields),
        upd_columns=", ".join(f"upd.{column}" for column in account_fields),
    )


def posting_execute(*, account_id: int, usage: bool, now: datetime, **params) -> Outcome | None:
    """Run the statement; None when the account does not exist. `params` fill the placeholders
    (plain: the posting's columns; usage: cost, kind, later_kind, reason, later_reason;
    max_amount; both: funding, expires_at, source_ref, created_by)."""
    with connection.cursor() as cursor:
        cursor.execute(_sql(usage), {**params, "account": account_id, "now": now})
        row = cursor.fetchone()
    if row is None:
        return None
    return _outcome(row)


def _outcome(row) -> Outcome:
    ledger_count = len(CreditTransaction._meta.concrete_fields)
    decided, ledger_row = row[:3], row[3 : 3 + ledger_count]
    account_row = row[3 + ledger_count :]
    if ledger_row[0] is None:
        return Outcome(*decided, None, None)
    account = _instance(BillingAccount, account_row)
    transaction = _instance(CreditTransaction, ledger_row)
    transaction.account = account
    return Outcome(*decided, transaction, account)


def _instance(model, values):
    fields = [field.attname for field in model._meta.concrete_fields]
    return model.from_db(connection.alias, fields, values)
