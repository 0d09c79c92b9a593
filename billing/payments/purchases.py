"""Buying credits: open a Stripe Checkout Session for a prepaid account. Fulfilment (granting
the credits when Stripe says the session is paid) is `checkout_fulfill` in this module."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from billing.ledger.accounts import prepaid_active
from billing.ledger.errors import BillingError, InvalidAmount, PrepaidNotAllowed
from billing.ledger.money import format_cents
from billing.ledger.postings import credits_record_purchase
from billing.models import BillingAccount, CreditPurchase
from billing.payments import gateway
from config.ids import parse_id

logger = logging.getLogger(__name__)


def validate_purchase_amount(amount_cents) -> int:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise InvalidAmount("The amount must be a whole number of cents.")
    low, high = settings.CREDIT_MIN_AMOUNT_CENTS, settings.CREDIT_MAX_AMOUNT_CENTS
    if amount_cents < low:
        raise InvalidAmount(f"The minimum purchase is {format_cents(low)}.")
    if amount_cents > high:
        raise InvalidAmount(f"The maximum purchase is {format_cents(high)}.")
    return amount_cents


def credits_purchase_start(*, account: BillingAccount, amount_cents: int) -> CreditPurchase:
    """1. check the account may buy and the amount; 2. record the purchase; 3. open the Checkout
    Session keyed by the purchase id; 4. store the session id and URL."""
    if not prepaid_active(account):
        raise PrepaidNotAllowed("Only prepaid accounts can buy credits.")
    validate_purchase_amount(amount_cents)
    if not gateway.is_configured():
        raise gateway.StripeNotConfigured("Stripe is not configured (set STRIPE_SECRET_KEY).")
    purchase = CreditPurchase.objects.create(
        account=account, amount_cents=amount_cents, currency=account.currency
    )
    try:
        session_id, url = gateway.checkout_session_create(
            purchase_id=purchase.pk,
            customer_id=account.stripe_customer_id,
            account_id=account.pk,
            amount_cents=amount_cents,
            currency=account.currency,
            success_url=f"{settings.SITE_URL}/billing/credits/success/?purchase={purchase.pk}",
            cancel_url=f"{settings.SITE_URL}/billing/credits/cancel/?purchase={purchase.pk}",
        )
    except gateway.StripeError as exc:
        # Kept, not deleted: the attempt and why it failed stay visible; no money moved.
        purchase.status = CreditPurchase.Status.FAILED
        purchase.failure_reason = str(exc)
        purchase.save(update_fields=["status", "failure_reason", "updated_at"])
        raise
    with transaction.atomic():
        purchase.stripe_session_id = session_id
        purchase.checkout_url = url
        purchase.status = CreditPurchase.Status.OPEN
        purchase.save(update_fields=["stripe_session_id", "checkout_url", "status", "updated_at"])
    return purchase


class UnknownCheckoutSession(BillingError):
    """The session names no account of ours (not one of our purchases)."""


def checkout_fulfill(session_id: str) -> CreditPurchase:
    """Stripe's recommended fulfilment: the one function both `checkout.session.completed` and
    `checkout.session.async_payment_succeeded` call, safe to run any number of times at once.

    1. retrieve the session from Stripe (the event payload may be stale or replayed);
    2. find our purchase (by session id, else the purchase id in metadata) and its account;
    3. unless `payment_status == "paid"` (an async payment still pending), change nothing;
    4. grant `amount_total`, what was actually paid, keyed by the session id, so the ledger
       grants it once however many deliveries race here; mark the purchase paid.
    """
    session = gateway.checkout_session_retrieve(session_id)
    # No savepoint of its own: an error aborts the caller's block, and the webhook already
    # wraps every handler in one (a savepoint is a round trip per delivery).
    with transaction.atomic(savepoint=False):
        purchase = _purchase_for_session(session)
        if session.payment_status != "paid":
            return purchase
        if (session.currency or "").lower() != purchase.account.currency.lower():
            raise BillingError(
                f"Session {session_id} was paid in {session.currency!r}, "
                f"the account bills in {purchase.account.currency!r}."
            )
        if purchase.status == CreditPurchase.Status.PAID and purchase.transaction_id:
            return purchase  # a duplicate delivery: granted already
        tx = credits_record_purchase(
            account=purchase.account,
            amount_cents=int(session.amount_total),
            stripe_session_id=session_id,
        )
        purchase.status = CreditPurchase.Status.PAID
        purchase.amount_paid_cents = tx.amount_cents
        purchase.transaction = tx
        purchase.failure_reason = ""
        purchase.save(
            update_fields=[
                "status",
                "amount_paid_cents",
                "transaction",
                "failure_reason",
                "updated_at",
            ]
        )
    return purchase


def checkout_fail(*, session_id: str, status: str, reason: str) -> CreditPurchase | None:
    """An async payment failed or the session expired: the purchase records it, unless it was
    paid already (a late or reordered event cannot undo a grant)."""
    if status not in {CreditPurchase.Status.FAILED, CreditPurchase.Status.EXPIRED}:
        raise ValueError(status)
    with transaction.atomic():
        purchase = (
            CreditPurchase.objects.select_for_update().filter(stripe_session_id=session_id).first()
        )
        if purchase is None or purchase.status == CreditPurchase.Status.PAID:
            return purchase
        purchase.status = status
        purchase.failure_reason = reason
        purchase.save(update_fields=["status", "failure_reason", "updated_at"])
        return purchase


def checkout_session_account(session) -> BillingAccount | None:
    """The account a Checkout Session (object or event payload dict) belongs to, if ours."""
    account_id = checkout_session_account_id(session)
    if account_id is None:
        return None
    return BillingAccount.objects.select_related("user").filter(pk=account_id).first()


def checkout_session_account_id(session) -> int | None:
    """The account id a Checkout Session names (not checked against the database)."""
    raw = _get(session, "client_reference_id") or (_get(session, "metadata") or {}).get(
        "hopsbill_account_id"
    )
    return parse_id(raw)


def _get(obj, key: str):
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def _purchase_for_session(session) -> CreditPurchase:
    """Our purchase for the session, locked (in the caller's transaction), its account loaded.
    A paid session whose purchase row is missing still lands: the row is recreated."""
    purchase = (
        CreditPurchase.objects.select_for_update(of=("self",))
        .select_related("account")
        .filter(stripe_session_id=session.id)
        .first()
    )
    account = checkout_session_account(session) if purchase is None else purchase.account
    if account is None:
        raise UnknownCheckoutSession(f"Checkout Session {session.id} names no account of ours.")
    if purchase is None:
        purchase = _purchase_recreate(session, account)
    if str(purchase.account_id) != str(_get(session, "client_reference_id") or account.pk):
        raise UnknownCheckoutSession(f"Checkout Session {session.id} belongs to another account.")
    return purchase


def _purchase_recreate(session, account: BillingAccount) -> CreditPurchase:
    purchase_id = (session.metadata or {}).get("hopsbill_purchase_id", "")
    purchase = (
        CreditPurchase.objects.select_for_update()
        .filter(pk=parse_id(purchase_id) or 0, account=account)
        .first()
    )
    if purchase is None or purchase.stripe_session_id not in (None, session.id):
        purchase = CreditPurchase(account=account, amount_cents=int(session.amount_total or 1))
    purchase.stripe_session_id = session.id
    purchase.currency = account.currency
    if purchase.status == CreditPurchase.Status.CREATED:
        purchase.status = CreditPurchase.Status.OPEN
    purchase.save()
    purchase.account = account
    return purchase
