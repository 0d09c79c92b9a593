"""Buying credits: open a Stripe Checkout Session for a prepaid account. Fulfilment (granting
the credits when Stripe says the session is paid) is `checkout_fulfill` in this module."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from billing import stripe_api
from billing.models import BillingAccount, CreditPurchase
from billing.money import format_cents
from billing.services.errors import InvalidAmount, PrepaidNotAllowed


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
    if not (settings.PREPAID_FEATURE_ENABLED and account.is_prepaid):
        raise PrepaidNotAllowed("Only prepaid accounts can buy credits.")
    validate_purchase_amount(amount_cents)
    if not stripe_api.is_configured():
        raise stripe_api.StripeNotConfigured("Stripe is not configured (set STRIPE_SECRET_KEY).")
    purchase = CreditPurchase.objects.create(
        account=account, amount_cents=amount_cents, currency=account.currency
    )
    session_id, url = stripe_api.checkout_session_create(
        purchase_id=purchase.pk,
        customer_id=account.stripe_customer_id,
        account_id=account.pk,
        amount_cents=amount_cents,
        currency=account.currency,
        success_url=f"{settings.SITE_URL}/billing/credits/success/?purchase={purchase.pk}",
        cancel_url=f"{settings.SITE_URL}/billing/credits/cancel/?purchase={purchase.pk}",
    )
    with transaction.atomic():
        purchase.stripe_session_id = session_id
        purchase.checkout_url = url
        purchase.status = CreditPurchase.Status.OPEN
        purchase.save(update_fields=["stripe_session_id", "checkout_url", "status", "updated_at"])
    return purchase
