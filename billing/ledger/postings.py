"""The credit ledger.

Ledger rules, all enforced in `_post`:
1. Amounts are non-zero integers in minor units, at most LEDGER_MAX_AMOUNT_CENTS.
2. The account row is locked (SELECT ... FOR UPDATE) for the whole posting, so concurrent
   writers queue and the cached balance always equals the sum of transactions. On PostgreSQL
   the posting is one statement (billing/ledger/one_statement.py); elsewhere the ORM.
3. An idempotency key that exists returns its transaction and writes nothing; the same key
   with another amount or account raises IdempotencyConflict.
4. Usage is always recorded, even past zero: the balance may go negative. Which credits a
   debit used (promotional before paid, earliest expiry first) is derived by replaying the
   ledger in billing/services/lots.py, so a posting never updates an older row.
5. Below zero a prepaid account is in arrears; back at zero or above it is active again.
6. Low-balance alerts are not sent here: billing/budgets/alerts.py checks each account's own
   thresholds against balance minus today's estimate, after sampler passes and collections.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, fields
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing.ledger.errors import BillingError, IdempotencyConflict, InvalidAmount
from billing.ledger.lots import Lot, lots_remaining
from billing.ledger.money import format_cents
from billing.ledger.one_statement import Outcome, posting_execute
from billing.models import (
    AccountStatus,
    BillingAccount,
    CreditTransaction,
    Funding,
    TransactionKind,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Posting:
    """A posting decided by the caller. Field names are CreditTransaction's."""

    kind: str
    amount_cents: int
    idempotency_key: str
    funding: str = ""
    expires_at: datetime | None = None
    source_ref: str = ""
    created_by: object | None = None
    reason: str = ""

    def columns(self) -> dict:
        return {field.name: getattr(self, field.name) for field in fields(self)}


USAGE_RECOLLECTED = "Usage re-collected with a different cost."


@dataclass(frozen=True)
class _UsageCharge:
    """A usage day's cost, posted once: what the ledger already charged for `usage_ref` is
    read under the account lock; revision n of the charge posts the difference under key
    `<usage_ref>:<n>`, the first as usage, later ones as adjustments."""

    usage_ref: str
    cost_cents: int

    def posting(self, *, charged: int, revision: int) -> _Posting | None:
        delta = -self.cost_cents - charged
        if delta == 0:
            return None
        _validate_amount(delta, positive=None)
        return _Posting(
            kind=TransactionKind.USAGE if revision == 0 else TransactionKind.ADJUSTMENT,
            amount_cents=delta,
            idempotency_key=f"{self.usage_ref}:{revision}",
            source_ref=self.usage_ref,
            reason="" if revision == 0 else USAGE_RECOLLECTED,
        )

    def statement_params(self) -> dict:
        return {
            "cost": self.cost_cents,
            "kind": TransactionKind.USAGE,
            "later_kind": TransactionKind.ADJUSTMENT,
            "reason": "",
            "later_reason": USAGE_RECOLLECTED,
            "funding": "",
            "expires_at": None,
            "source_ref": self.usage_ref,
            "created_by": None,
            "max_amount": settings.LEDGER_MAX_AMOUNT_CENTS,
        }


def _validate_amount(amount_cents, *, positive: bool | None) -> None:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise InvalidAmount("The amount must be a whole number of cents.")
    if amount_cents == 0:
        raise InvalidAmount("The amount must not be zero.")
    if positive is True and amount_cents < 0:
        raise InvalidAmount("The amount must be positive.")
    if positive is False and amount_cents > 0:
        raise InvalidAmount("The amount must be negative.")
    if abs(amount_cents) > settings.LEDGER_MAX_AMOUNT_CENTS:
        raise InvalidAmount(
            f"The amount exceeds the maximum of {format_cents(settings.LEDGER_MAX_AMOUNT_CENTS)}."
        )


def _existing(posting: _Posting, account_id: int) -> CreditTransaction | None:
    existing = CreditTransaction.objects.filter(idempotency_key=posting.idempotency_key).first()
    if existing is None:
        return None
    if existing.account_id != account_id or existing.amount_cents != posting.amount_cents:
        raise IdempotencyConflict(
            f"Idempotency key {posting.idempotency_key!r} was already used for another posting."
        )
    return existing


def _post(account_id: int, posting: _Posting | _UsageCharge) -> CreditTransaction | None:
    """Apply `posting` to the account under its row lock: the new transaction (its
    `balance_after_cents` is the new balance), the stored one for a replayed key, or None
    when a usage charge has nothing left to post. One SQL statement on PostgreSQL; the ORM
    elsewhere (SQLite for `make run`)."""
    if isinstance(posting, _Posting) and not posting.idempotency_key:
        raise BillingError("An idempotency key is required.")
    if connection.vendor == "postgresql":
        return _post_in_one_statement(account_id, posting)
    return _post_portable(account_id, posting)


# A usage charge whose key a concurrent charge of the same day took is decided again.
_USAGE_ATTEMPTS = 3


def _post_in_one_statement(
    account_id: int, posting: _Posting | _UsageCharge
) -> CreditTransaction | None:
    for _ in range(_USAGE_ATTEMPTS):
        outcome = _run(account_id, posting)
        if outcome.transaction is not None:
            return outcome.transaction
        if isinstance(posting, _Posting):
            return _stored(posting, account_id)
        if outcome.amount_cents == 0:
            return None
        _validate_amount(outcome.amount_cents, positive=None)
    raise BillingError(f"Usage {posting.usage_ref!r} kept changing while it was being charged.")


def _run(account_id: int, posting: _Posting | _UsageCharge) -> Outcome:
    """Outside a transaction the statement is its own, one round trip, unless the posting takes
    the balance across zero: that one runs again in a transaction with the status rule."""
    outcome = _execute(account_id, posting, may_cross_zero=connection.in_atomic_block)
    if outcome.transaction is None and outcome.crosses_zero:
        with transaction.atomic():
            outcome = _execute(account_id, posting, may_cross_zero=True)
            _status_follow(outcome)
        return outcome
    _status_follow(outcome)
    return outcome


def _execute(account_id: int, posting: _Posting | _UsageCharge, *, may_cross_zero: bool) -> Outcome:
    """The posting statement: in the caller's transaction, or (outside one) its own."""
    outcome = posting_execute(
        account_id=account_id,
        now=timezone.now(),
        may_cross_zero=may_cross_zero,
        **_statement_params(posting),
    )
    if outcome is None:
        raise BillingAccount.DoesNotExist(f"No billing account {account_id}.")
    return outcome


def _stored(posting: _Posting, account_id: int) -> CreditTransaction:
    """The row under a key the statement found taken."""
    existing = _existing(posting, account_id)
    if existing is None:
        raise BillingError(f"Posting {posting.idempotency_key!r} was not recorded.")
    return existing


def _statement_params(posting: _Posting | _UsageCharge) -> dict:
    if isinstance(posting, _UsageCharge):
        return {"usage": True, **posting.statement_params()}
    created_by = posting.created_by.pk if posting.created_by else None
    return {"usage": False, **posting.columns(), "created_by": created_by}


def _status_follow(outcome: Outcome) -> None:
    """The status rule on the account as the statement left it. A change is written under the
    row lock: still held inside the posting's transaction; taken again when the posting ran
    on its own (only an account whose status was already out of step with its balance)."""
    account = outcome.account
    if account is None or _status_for(account) == account.status:
        return
    with transaction.atomic():
        locked = BillingAccount.objects.select_for_update().get(pk=account.pk)
        locked.status = account.status = _status_for(locked)
        locked.save(update_fields=["status", "updated_at"])


def _post_portable(account_id: int, posting: _Posting | _UsageCharge) -> CreditTransaction | None:
    usage_ref = posting.usage_ref if isinstance(posting, _UsageCharge) else None
    try:
        with transaction.atomic():
            account = _lock_account(account_id, usage_ref)
            if isinstance(posting, _UsageCharge):
                built = posting.posting(
                    charged=account.usage_charged, revision=account.usage_postings
                )
                return _apply(account, built) if built else None
            return _existing(posting, account_id) or _apply(account, posting)
    except IntegrityError:
        # A writer on another account raced us to the same key; theirs stands.
        if isinstance(posting, _UsageCharge):
            raise
        existing = _existing(posting, account_id)
        if existing:
            return existing
        raise


def _lock_account(account_id: int, usage_ref: str | None) -> BillingAccount:
    """SELECT ... FOR UPDATE of the account row. With a usage reference, the same statement
    reads what the ledger already charged for it (`usage_charged`, `usage_postings`)."""
    accounts = BillingAccount._meta.db_table
    ledger = CreditTransaction._meta.db_table
    columns, params = "a.*", []
    if usage_ref is not None:
        columns += (
            f", (SELECT CAST(COALESCE(SUM(t.amount_cents), 0) AS BIGINT) FROM {ledger} t"
            " WHERE t.source_ref = %s) AS usage_charged"
            f", (SELECT COUNT(*) FROM {ledger} t WHERE t.source_ref = %s) AS usage_postings"
        )
        params += [usage_ref, usage_ref]
    lock = " FOR UPDATE OF a" if connection.features.has_select_for_update_of else ""
    sql = f"SELECT {columns} FROM {accounts} a WHERE a.id = %s{lock}"
    rows = list(BillingAccount.objects.raw(sql, [*params, account_id]))
    if not rows:
        raise BillingAccount.DoesNotExist(f"No billing account {account_id}.")
    return rows[0]


def _apply(account: BillingAccount, posting: _Posting) -> CreditTransaction:
    account.balance_cents += posting.amount_cents
    tx = CreditTransaction.objects.create(
        account=account, balance_after_cents=account.balance_cents, **posting.columns()
    )
    account.status = _status_for(account)
    account.save(update_fields=["balance_cents", "status", "updated_at"])
    return tx


def _status_for(account: BillingAccount) -> str:
    after = account.balance_cents
    if account.is_prepaid:
        if after < 0 and account.status == AccountStatus.ACTIVE:
            return AccountStatus.IN_ARREARS
        if after >= 0 and account.status == AccountStatus.IN_ARREARS:
            return AccountStatus.ACTIVE
    return account.status


def staff_grant_key(*, account_id: int, request_key: str | None = None) -> str:
    """The one key scheme for credits staff grant (panel, staff API, command): a retry with
    the same request key grants once; no request key, a new grant every time."""
    return f"staff-grant:{account_id}:{request_key or uuid.uuid4().hex}"


def credits_grant(
    *,
    account: BillingAccount,
    amount_cents: int,
    idempotency_key: str,
    reason: str,
    created_by=None,
    expires_at: datetime | None = None,
) -> CreditTransaction:
    """Promotional credits, optionally expiring."""
    _validate_amount(amount_cents, positive=True)
    if not reason.strip():
        raise BillingError("A reason is required for a grant.")
    posting = _staff_posting(
        TransactionKind.GRANT,
        amount_cents,
        idempotency_key,
        reason=reason,
        by=created_by,
        expires_at=expires_at,
    )
    return _post(account.pk, posting)


def _staff_posting(
    kind: str,
    amount_cents: int,
    idempotency_key: str,
    *,
    reason: str,
    by,
    expires_at: datetime | None = None,
) -> _Posting:
    """Credits staff give or correct: promotional, recorded with who did it."""
    return _Posting(
        kind=kind,
        amount_cents=amount_cents,
        idempotency_key=idempotency_key,
        funding=Funding.PROMOTIONAL,
        expires_at=expires_at,
        created_by=by,
        reason=reason,
        source_ref=f"staff:{by.pk}" if by else "",
    )


def credits_record_purchase(
    *, account: BillingAccount, amount_cents: int, stripe_session_id: str
) -> CreditTransaction:
    """Paid credits from a Stripe Checkout Session; the session id is the idempotency key."""
    return _record_paid(account, amount_cents, f"checkout_session:{stripe_session_id}")


def credits_record_payment(
    *, account: BillingAccount, amount_cents: int, stripe_payment_intent_id: str
) -> CreditTransaction:
    """Paid credits from an off-session PaymentIntent (auto top-up); its id is the key."""
    return _record_paid(account, amount_cents, f"payment_intent:{stripe_payment_intent_id}")


def _record_paid(account: BillingAccount, amount_cents: int, ref: str) -> CreditTransaction:
    _validate_amount(amount_cents, positive=True)
    posting = _Posting(
        kind=TransactionKind.PURCHASE,
        amount_cents=amount_cents,
        idempotency_key=ref,
        funding=Funding.PAID,
        source_ref=ref,
    )
    return _post(account.pk, posting)


def credits_deduct_usage(
    *, account: BillingAccount, usage_ref: str, cost_cents: int
) -> CreditTransaction | None:
    """Charge a usage day's cost once. A rerun with the same cost writes nothing; a different
    cost posts only the difference, as an adjustment. Returns the new posting, if any."""
    if isinstance(cost_cents, bool) or not isinstance(cost_cents, int) or cost_cents < 0:
        raise InvalidAmount("A usage cost must be a non-negative whole number of cents.")

    return _post(account.pk, _UsageCharge(usage_ref=usage_ref, cost_cents=cost_cents))


def credits_adjust(
    *,
    account: BillingAccount,
    amount_cents: int,
    reason: str,
    created_by,
    idempotency_key: str,
) -> CreditTransaction:
    """A staff correction, positive or negative, always with a reason."""
    _validate_amount(amount_cents, positive=None)
    if not reason.strip():
        raise BillingError("A reason is required for an adjustment.")
    if created_by is None or not created_by.is_staff:
        raise BillingError("Only staff can adjust a balance.")
    posting = _staff_posting(
        TransactionKind.ADJUSTMENT, amount_cents, idempotency_key, reason=reason, by=created_by
    )
    return _post(account.pk, posting)


def credits_refund(
    *, account: BillingAccount, amount_cents: int, idempotency_key: str, reason: str
) -> CreditTransaction:
    """Money paid back to the customer: removes paid credits (amount given as positive)."""
    _validate_amount(amount_cents, positive=True)
    posting = _Posting(
        kind=TransactionKind.REFUND,
        amount_cents=-amount_cents,
        idempotency_key=idempotency_key,
        reason=reason,
    )
    return _post(account.pk, posting)


REVERSAL_KINDS = {
    TransactionKind.REFUND: False,  # debit
    TransactionKind.DISPUTE: False,  # debit
    TransactionKind.DISPUTE_WON: True,  # credit back
}


def credits_reverse_payment(
    *,
    account: BillingAccount,
    kind: str,
    amount_cents: int,
    idempotency_key: str,
    source_ref: str,
    reason: str,
) -> CreditTransaction:
    """Money of a credit purchase coming back out (a refund, a dispute) or a lost dispute
    won back. `amount_cents` is positive; the sign follows the kind. The balance may go
    below zero (then the account is in arrears): the money is gone either way."""
    if kind not in REVERSAL_KINDS:
        raise BillingError(f"Not a payment reversal: {kind!r}.")
    _validate_amount(amount_cents, positive=True)
    credit = REVERSAL_KINDS[kind]
    posting = _Posting(
        kind=kind,
        amount_cents=amount_cents if credit else -amount_cents,
        idempotency_key=idempotency_key,
        funding=Funding.PAID if credit else "",
        source_ref=source_ref,
        reason=reason,
    )
    return _post(account.pk, posting)


def credits_expire(*, now: datetime | None = None) -> list[CreditTransaction]:
    """Post an `expiry` for the unused remainder of every promotional grant past its expiry.
    The remainder comes from replaying the ledger (billing.ledger.lots)."""
    now = now or timezone.now()
    accounts = (
        CreditTransaction.objects.filter(
            funding=Funding.PROMOTIONAL, amount_cents__gt=0, expires_at__lte=now
        )
        .values_list("account_id", flat=True)
        .distinct()
    )
    posted = []
    for account_id in accounts:
        posted.extend(_expire_account(account_id, now))
    return posted


def _expire_account(account_id: int, now: datetime) -> list[CreditTransaction]:
    with transaction.atomic():
        BillingAccount.objects.select_for_update().get(pk=account_id)
        due = [
            lot
            for lot in lots_remaining(account_id=account_id)
            if lot.funding == Funding.PROMOTIONAL and lot.expires_at and lot.expires_at <= now
        ]
        return [_post(account_id, _expiry_posting(lot)) for lot in due]


def _expiry_posting(lot: Lot) -> _Posting:
    return _Posting(
        kind=TransactionKind.EXPIRY,
        amount_cents=-lot.remaining_cents,
        idempotency_key=f"expiry:lot:{lot.transaction_id}",
        source_ref=f"lot:{lot.transaction_id}",
        reason="Promotional credits expired unused.",
    )


def credits_balance(*, account: BillingAccount) -> int:
    return BillingAccount.objects.values_list("balance_cents", flat=True).get(pk=account.pk)
