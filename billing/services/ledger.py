"""The credit ledger.

Ledger rules, all enforced in `_post`:
1. Amounts are non-zero integers in minor units, at most LEDGER_MAX_AMOUNT_CENTS.
2. The account row is locked (SELECT ... FOR UPDATE) for the whole posting, so concurrent
   writers queue and the cached balance always equals the sum of transactions.
3. An idempotency key that exists returns its transaction and writes nothing; the same key
   with another amount or account raises IdempotencyConflict.
4. Credits pay off uncovered usage first, the rest becomes a lot. Debits consume lots:
   promotional before paid, the earliest expiry first; what no lot covers is uncovered and
   the balance goes negative (usage is always recorded).
5. Below zero a prepaid account is in arrears; back at zero or above it is active again.
6. Crossing below LOW_BALANCE_THRESHOLD_CENTS sends one notice until the balance recovers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from billing.models import (
    AccountStatus,
    BillingAccount,
    CreditLot,
    CreditTransaction,
    Funding,
    TransactionKind,
)
from billing.money import format_cents
from billing.services.errors import BillingError, IdempotencyConflict, InvalidAmount

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Posting:
    kind: str
    amount_cents: int
    idempotency_key: str
    funding: str = ""
    expires_at: datetime | None = None
    source_ref: str = ""
    created_by: object | None = None
    reason: str = ""
    consume_lot_id: int | None = None
    consume_funding: str | None = None


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


def _post(account_id: int, posting: _Posting) -> CreditTransaction:
    if not posting.idempotency_key:
        raise BillingError("An idempotency key is required.")
    try:
        with transaction.atomic():
            account = BillingAccount.objects.select_for_update().get(pk=account_id)
            existing = _existing(posting, account_id)
            if existing:
                return existing
            return _apply(account, posting)
    except IntegrityError:
        # A writer on another account raced us to the same key; theirs stands.
        existing = _existing(posting, account_id)
        if existing:
            return existing
        raise


def _apply(account: BillingAccount, posting: _Posting) -> CreditTransaction:
    before = account.balance_cents
    account.balance_cents = before + posting.amount_cents
    tx = CreditTransaction.objects.create(
        account=account,
        kind=posting.kind,
        amount_cents=posting.amount_cents,
        balance_after_cents=account.balance_cents,
        idempotency_key=posting.idempotency_key,
        funding=posting.funding,
        expires_at=posting.expires_at,
        source_ref=posting.source_ref,
        created_by=posting.created_by,
        reason=posting.reason,
    )
    if posting.amount_cents > 0:
        _credit_lots(account, tx, posting)
    else:
        _debit_lots(account, posting)
    _update_status(account, before)
    account.save(
        update_fields=[
            "balance_cents",
            "uncovered_cents",
            "status",
            "low_balance_notified",
            "updated_at",
        ]
    )
    return tx


def _credit_lots(account: BillingAccount, tx: CreditTransaction, posting: _Posting) -> None:
    payoff = min(posting.amount_cents, account.uncovered_cents)
    account.uncovered_cents -= payoff
    left = posting.amount_cents - payoff
    if left > 0:
        CreditLot.objects.create(
            account=account,
            transaction=tx,
            funding=posting.funding or Funding.PAID,
            expires_at=posting.expires_at,
            remaining_cents=left,
        )


def _debit_lots(account: BillingAccount, posting: _Posting) -> None:
    needed = -posting.amount_cents
    for lot in _lots_to_consume(account, posting):
        if needed == 0:
            break
        take = min(needed, lot.remaining_cents)
        CreditLot.objects.filter(pk=lot.pk).update(remaining_cents=F("remaining_cents") - take)
        needed -= take
    account.uncovered_cents += needed


def _lots_to_consume(account: BillingAccount, posting: _Posting):
    lots = CreditLot.objects.select_for_update().filter(account=account, remaining_cents__gt=0)
    if posting.consume_lot_id is not None:
        return lots.filter(pk=posting.consume_lot_id)
    if posting.consume_funding:
        lots = lots.filter(funding=posting.consume_funding)
    # Promotional before paid; among them the earliest expiry first, then the oldest.
    return lots.order_by(
        F("funding").desc(),  # "promotional" > "paid"
        F("expires_at").asc(nulls_last=True),
        "created_at",
        "id",
    )


def _update_status(account: BillingAccount, before: int) -> None:
    after = account.balance_cents
    if account.is_prepaid:
        if after < 0 and account.status == AccountStatus.ACTIVE:
            account.status = AccountStatus.IN_ARREARS
        elif after >= 0 and account.status == AccountStatus.IN_ARREARS:
            account.status = AccountStatus.ACTIVE
    threshold = settings.LOW_BALANCE_THRESHOLD_CENTS
    if after >= threshold:
        account.low_balance_notified = False
    elif account.is_prepaid and not account.low_balance_notified:
        account.low_balance_notified = True
        _send_low_balance_notice(account)


def _send_low_balance_notice(account: BillingAccount) -> None:
    email = account.user.email
    balance = format_cents(account.balance_cents, account.currency)

    def send() -> None:
        send_mail(
            subject="Your Hopsworks credit balance is low",
            message=(
                f"Your credit balance is {balance}. Usage keeps being recorded; buy credits at "
                f"{settings.SITE_URL}/billing/credits/ to stay in good standing."
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
            fail_silently=True,
        )

    transaction.on_commit(send)


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
    posting = _Posting(
        kind=TransactionKind.GRANT,
        amount_cents=amount_cents,
        idempotency_key=idempotency_key,
        funding=Funding.PROMOTIONAL,
        expires_at=expires_at,
        created_by=created_by,
        reason=reason,
        source_ref=f"staff:{created_by.pk}" if created_by else "",
    )
    return _post(account.pk, posting)


def credits_record_purchase(
    *, account: BillingAccount, amount_cents: int, stripe_session_id: str
) -> CreditTransaction:
    """Paid credits from a Stripe Checkout Session; the session id is the idempotency key."""
    _validate_amount(amount_cents, positive=True)
    posting = _Posting(
        kind=TransactionKind.PURCHASE,
        amount_cents=amount_cents,
        idempotency_key=f"checkout_session:{stripe_session_id}",
        funding=Funding.PAID,
        source_ref=f"checkout_session:{stripe_session_id}",
    )
    return _post(account.pk, posting)


def credits_deduct_usage(
    *, account: BillingAccount, usage_ref: str, cost_cents: int
) -> CreditTransaction | None:
    """Charge a usage day's cost once. A rerun with the same cost writes nothing; a different
    cost posts only the difference, as an adjustment. Returns the new posting, if any."""
    if isinstance(cost_cents, bool) or not isinstance(cost_cents, int) or cost_cents < 0:
        raise InvalidAmount("A usage cost must be a non-negative whole number of cents.")
    with transaction.atomic():
        BillingAccount.objects.select_for_update().get(pk=account.pk)
        charged = _charged_for(usage_ref, account.pk)
        delta = -cost_cents - charged
        if delta == 0:
            return None
        _validate_amount(delta, positive=None)
        revision = CreditTransaction.objects.filter(source_ref=usage_ref).count()
        posting = _Posting(
            kind=TransactionKind.USAGE if revision == 0 else TransactionKind.ADJUSTMENT,
            amount_cents=delta,
            idempotency_key=f"{usage_ref}:{revision}",
            source_ref=usage_ref,
            reason="" if revision == 0 else "Usage re-collected with a different cost.",
        )
        return _post(account.pk, posting)


def _charged_for(usage_ref: str, account_id: int) -> int:
    total = CreditTransaction.objects.filter(source_ref=usage_ref, account_id=account_id).aggregate(
        total=Sum("amount_cents")
    )["total"]
    return total or 0


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
    posting = _Posting(
        kind=TransactionKind.ADJUSTMENT,
        amount_cents=amount_cents,
        idempotency_key=idempotency_key,
        funding=Funding.PROMOTIONAL,
        created_by=created_by,
        reason=reason,
        source_ref=f"staff:{created_by.pk}",
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
        consume_funding=Funding.PAID,
    )
    return _post(account.pk, posting)


def credits_expire(*, now: datetime | None = None) -> list[CreditTransaction]:
    """Post an `expiry` for the unused remainder of every promotional lot past its expiry."""
    now = now or timezone.now()
    due = CreditLot.objects.filter(
        funding=Funding.PROMOTIONAL, expires_at__lte=now, remaining_cents__gt=0
    ).values_list("pk", "account_id")
    posted = []
    for lot_id, account_id in due:
        tx = _expire_lot(lot_id, account_id)
        if tx:
            posted.append(tx)
    return posted


def _expire_lot(lot_id: int, account_id: int) -> CreditTransaction | None:
    with transaction.atomic():
        BillingAccount.objects.select_for_update().get(pk=account_id)
        remaining = CreditLot.objects.get(pk=lot_id).remaining_cents
        if remaining == 0:
            return None
        posting = _Posting(
            kind=TransactionKind.EXPIRY,
            amount_cents=-remaining,
            idempotency_key=f"expiry:lot:{lot_id}",
            source_ref=f"lot:{lot_id}",
            reason="Promotional credits expired unused.",
            consume_lot_id=lot_id,
        )
        return _post(account_id, posting)


def credits_balance(*, account: BillingAccount) -> int:
    return BillingAccount.objects.values_list("balance_cents", flat=True).get(pk=account.pk)
