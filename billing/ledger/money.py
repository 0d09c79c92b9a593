"""The one place money is rounded. Quantities and line costs keep 6 decimal places; amounts
that reach the ledger or Stripe are integer minor units, rounded half-up here and only here."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

COST_PLACES = Decimal("0.000001")
MINOR_UNITS_PER_MAJOR = 100


def round_cost(value: Decimal) -> Decimal:
    """A line cost or quantity to 6 decimal places."""
    return value.quantize(COST_PLACES, rounding=ROUND_HALF_UP)


def to_cents(amount: Decimal) -> int:
    """A decimal amount in major units (dollars) to integer minor units (cents)."""
    return int((amount * MINOR_UNITS_PER_MAJOR).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / MINOR_UNITS_PER_MAJOR).quantize(Decimal("0.01"))


def format_cents(cents: int, currency: str | None = None) -> str:
    """Display only; never parse this back. The currency defaults to BILLING_CURRENCY."""
    currency = currency or settings.BILLING_CURRENCY
    sign = "-" if cents < 0 else ""
    symbol = "$" if currency.lower() == "usd" else f"{currency.upper()} "
    return f"{sign}{symbol}{from_cents(abs(cents)):,.2f}"
