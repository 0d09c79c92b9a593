"""Billing business rules. Import from here: `from billing.ledger import credits_grant`.

- accounts.py: billing accounts and the prepaid switch
- prices.py: price lookup and the cost of a quantity
- postings.py: the credit ledger (grant, purchase, usage, adjust, refund, expire, balance)
"""

from __future__ import annotations

from billing.ledger.accounts import (
    billing_account_ensure,
    billing_modes_on,
    billing_modes_on_day,
    prepaid_active,
    prepaid_disable,
    prepaid_enable,
)
from billing.ledger.errors import (
    BillingError,
    IdempotencyConflict,
    InvalidAmount,
    PrepaidNotAllowed,
    PrepaidSwitchedOff,
    PriceNotFound,
)
from billing.ledger.postings import (
    credits_adjust,
    credits_balance,
    credits_deduct_usage,
    credits_expire,
    credits_grant,
    credits_record_purchase,
    credits_refund,
    credits_reverse_payment,
    staff_grant_key,
)
from billing.ledger.prices import cost_of, price_lookup

__all__ = [
    "BillingError",
    "IdempotencyConflict",
    "InvalidAmount",
    "PrepaidNotAllowed",
    "PrepaidSwitchedOff",
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
    "credits_refund",
    "credits_reverse_payment",
    "prepaid_active",
    "prepaid_disable",
    "prepaid_enable",
    "price_lookup",
    "staff_grant_key",
]
