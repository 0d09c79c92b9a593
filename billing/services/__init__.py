"""Billing business rules. Import from here: `from billing.services import credits_grant`.

- accounts.py: billing accounts and the prepaid switch
- prices.py: price lookup and the cost of a quantity
- ledger.py: the credit ledger (grant, purchase, usage, adjust, refund, expire, balance)
- purchases.py: buying credits through Stripe Checkout
"""

from __future__ import annotations

from billing.services.accounts import (
    billing_account_ensure,
    billing_modes_on,
    billing_modes_on_day,
    prepaid_disable,
    prepaid_enable,
)
from billing.services.errors import (
    BillingError,
    IdempotencyConflict,
    InvalidAmount,
    PrepaidNotAllowed,
    PriceNotFound,
)
from billing.services.ledger import (
    credits_adjust,
    credits_balance,
    credits_deduct_usage,
    credits_expire,
    credits_grant,
    credits_record_purchase,
    credits_refund,
    credits_reverse_payment,
)
from billing.services.prices import cost_of, price_lookup
from billing.services.purchases import credits_purchase_start, validate_purchase_amount

__all__ = [
    "BillingError",
    "IdempotencyConflict",
    "InvalidAmount",
    "PrepaidNotAllowed",
    "PriceNotFound",
    "billing_account_ensure",
    "billing_modes_on",
    "billing_modes_on_day",
    "cost_of",
    "credits_adjust",
    "credits_balance",
    "credits_deduct_usage",
    "credits_expire",
    "credits_grant",
    "credits_record_purchase",
    "credits_purchase_start",
    "credits_refund",
    "credits_reverse_payment",
    "prepaid_disable",
    "prepaid_enable",
    "price_lookup",
    "validate_purchase_amount",
]
