"""Which credits are left: derived by replaying an account's ledger, never stored.

Every credit (a positive posting) opens a lot; debits consume lots in this order:
1. an expiry consumes exactly the lot it names (source_ref "lot:<credit transaction id>");
2. a refund consumes paid lots, oldest first;
3. anything else (usage, negative adjustments) consumes promotional lots first, the earliest
   expiry first (no expiry last), then paid lots, oldest first;
4. what no lot covers is uncovered: the next credits pay it off before opening a lot.
Because the ledger is append-only and replayed in posting order, the result is the same every
time, and postings never have to update lot rows (the hot path stays one lock, one insert,
one update).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from billing.models import CreditTransaction, Funding, TransactionKind

_FAR_FUTURE = datetime.max


@dataclass
class Lot:
    transaction_id: int
    funding: str
    expires_at: datetime | None
    remaining_cents: int

    def order_key(self) -> tuple:
        promotional_first = 0 if self.funding == Funding.PROMOTIONAL else 1
        expiry = self.expires_at.replace(tzinfo=None) if self.expires_at else _FAR_FUTURE
        return (promotional_first, expiry, self.transaction_id)


def lots_replay(transactions: Iterable[CreditTransaction]) -> list[Lot]:
    """All lots of an account after replaying its transactions (in id order)."""
    lots: list[Lot] = []
    uncovered = 0
    for tx in sorted(transactions, key=lambda t: t.pk):
        if tx.amount_cents > 0:
            payoff = min(tx.amount_cents, uncovered)
            uncovered -= payoff
            if tx.amount_cents > payoff:
                lots.append(
                    Lot(tx.pk, tx.funding or Funding.PAID, tx.expires_at, tx.amount_cents - payoff)
                )
        else:
            uncovered += _consume(lots, tx)
    return lots


def _consume(lots: list[Lot], tx: CreditTransaction) -> int:
    needed = -tx.amount_cents
    for lot in _candidates(lots, tx):
        take = min(needed, lot.remaining_cents)
        lot.remaining_cents -= take
        needed -= take
        if needed == 0:
            break
    return needed


def _candidates(lots: list[Lot], tx: CreditTransaction) -> list[Lot]:
    open_lots = [lot for lot in lots if lot.remaining_cents > 0]
    if tx.kind == TransactionKind.EXPIRY and tx.source_ref.startswith("lot:"):
        lot_id = int(tx.source_ref.removeprefix("lot:"))
        return [lot for lot in open_lots if lot.transaction_id == lot_id]
    if tx.kind == TransactionKind.REFUND:
        return sorted((lot for lot in open_lots if lot.funding == Funding.PAID), key=Lot.order_key)
    return sorted(open_lots, key=Lot.order_key)


def lots_remaining(*, account_id: int) -> list[Lot]:
    """The account's lots with credit left, in the order usage would consume them."""
    transactions = CreditTransaction.objects.filter(account_id=account_id).only(
        "id", "kind", "amount_cents", "funding", "expires_at", "source_ref"
    )
    return sorted(
        (lot for lot in lots_replay(transactions) if lot.remaining_cents > 0), key=Lot.order_key
    )
