"""Payments: everything that talks to Stripe. The only package that imports the `stripe` SDK.

- gateway.py: the Stripe client (pinned version, keys, typed errors, idempotency keys)
- purchases.py: buying credits through Stripe Checkout
- stripe_sync.py: reporting usage days to Stripe's meter
- reconcile.py: comparing our records with Stripe's
- stripe_accounts.py: the dj-stripe mirror and the account status that follows Stripe
- dunning.py: unpaid invoices: the grace period and its reminders
- reversals.py: refunds and disputes (credits debited once per Stripe id)
- payment_methods.py: the default card as the webhooks tell it; the customer portal
"""

from __future__ import annotations

from billing.payments.purchases import credits_purchase_start, validate_purchase_amount

__all__ = ["credits_purchase_start", "validate_purchase_amount"]
