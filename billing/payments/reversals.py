"""Refunds and disputes: money that comes back out of a payment.

On a credit purchase (a Checkout Session of ours, or an auto top-up, made the charge's
PaymentIntent) the credits
go with the money: each refund id debits its amount once (`refund:<re_id>`), a dispute debits
the disputed amount once (`dispute:<dp_id>`) and flags the account for staff, a dispute closed
as won credits it back once (`dispute_won:<dp_id>`). The balance may go below zero (arrears).
Order does not matter: each posting has its own key, so a refund that arrives before its
checkout completion debits now and the grant lands later. On a postpaid invoice the reversal
is recorded (a ChargeReversal row, shown on the page) and the ledger is left alone: Stripe's
invoice already carries the money, and we never count it a second time.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from billing.ledger import credits_reverse_payment
from billing.models import AutoTopUpCharge, BillingAccount, ChargeReversal, TransactionKind
from billing.payments import gateway

Kind, Target = ChargeReversal.Kind, ChargeReversal.Target


def _target(charge) -> str:
    intent = _get(charge, "payment_intent") or ""
    if intent and AutoTopUpCharge.objects.filter(stripe_payment_intent_id=intent).exists():
        return Target.CREDITS  # an auto top-up (billing.payments.auto_topup) bought credits
    session = gateway.checkout_session_for_payment_intent(intent)
    ours = session is not None and (_get(session, "metadata") or {}).get("hopsbill_purchase_id")
    return Target.CREDITS if ours else Target.INVOICE


def _get(obj, key: str):
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def charge_refunded(*, account: BillingAccount, charge: dict) -> list[ChargeReversal]:
    """`charge.refunded` (full or partial, any number of times): every succeeded refund of the
    charge, listed from Stripe, is recorded and (on credits) debited once."""
    target = _target(charge)
    recorded = []
    for refund in gateway.charge_refunds(charge["id"]):
        if _get(refund, "status") not in ("succeeded", "pending"):
            continue
        recorded.append(
            _record(
                account=account,
                kind=Kind.REFUND,
                target=target,
                stripe_id=refund.id,
                charge_id=charge["id"],
                amount_cents=int(refund.amount),
                currency=refund.currency,
                status=refund.status,
            )
        )
    return recorded


def dispute_charge(dispute: dict):
    """The disputed charge as Stripe has it (a Dispute names its charge, not the customer)."""
    return gateway.charge_retrieve(str(dispute.get("charge") or ""))


def dispute_opened(*, account: BillingAccount, dispute: dict, charge) -> ChargeReversal:
    """`charge.dispute.created`: debit the disputed amount once; flag the account."""
    reversal = _record(
        account=account,
        kind=Kind.DISPUTE,
        target=_target(charge),
        stripe_id=dispute["id"],
        charge_id=str(dispute.get("charge")),
        amount_cents=int(dispute["amount"]),
        currency=str(dispute.get("currency") or account.currency),
        status=str(dispute.get("status") or ""),
    )
    BillingAccount.objects.filter(pk=account.pk).update(
        staff_flag=f"Dispute {dispute['id']} opened on charge {dispute.get('charge')}"[:255]
    )
    return reversal


def dispute_closed(*, account: BillingAccount, dispute: dict, charge) -> ChargeReversal:
    """`charge.dispute.closed`: won -> the amount is credited back once; lost -> it stays
    debited. Either way the dispute is debited first if its `created` event never came."""
    reversal = dispute_opened(account=account, dispute=dispute, charge=charge)
    status = str(dispute.get("status") or "")
    ChargeReversal.objects.filter(pk=reversal.pk).update(status=status)
    if status == "won" and reversal.target == Target.CREDITS:
        credits_reverse_payment(
            account=account,
            kind=TransactionKind.DISPUTE_WON,
            amount_cents=reversal.amount_cents,
            idempotency_key=f"dispute_won:{reversal.stripe_id}",
            source_ref=f"dispute:{reversal.stripe_id}",
            reason=f"Dispute {reversal.stripe_id} won: the credits are yours again.",
        )
    flagged = BillingAccount.objects.filter(pk=account.pk, staff_flag__contains=dispute["id"])
    flagged.update(staff_flag="" if status == "won" else f"Dispute {dispute['id']} {status}")
    reversal.status = status
    return reversal


def _record(
    *,
    account: BillingAccount,
    kind: str,
    target: str,
    stripe_id: str,
    charge_id: str,
    amount_cents: int,
    currency: str,
    status: str,
) -> ChargeReversal:
    """The reversal row (once per Stripe id) and, for credits, its debit (once per key)."""
    try:
        with transaction.atomic():
            reversal = ChargeReversal.objects.create(
                account=account,
                kind=kind,
                target=target,
                stripe_id=stripe_id,
                stripe_charge_id=charge_id,
                amount_cents=amount_cents,
                currency=currency,
                status=status,
            )
    except IntegrityError:
        reversal = ChargeReversal.objects.get(stripe_id=stripe_id)
    if reversal.target == Target.CREDITS:
        credits_reverse_payment(
            account=account,
            kind=TransactionKind.REFUND if kind == Kind.REFUND else TransactionKind.DISPUTE,
            amount_cents=reversal.amount_cents,
            idempotency_key=f"{kind}:{stripe_id}",
            source_ref=f"{kind}:{stripe_id}",
            reason=f"Stripe {kind} {stripe_id} of charge {charge_id}.",
        )
    return reversal
