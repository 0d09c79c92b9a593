"""The one place money is rounded. Quantities and line costs keep 6 decimal places; amounts
that reach the ledger or Stripe are integer minor units, rounded half-up here and only here."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

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


def allocate_cents(amounts: Sequence[Decimal], total_cents: int | None = None) -> list[int]:
    """Whole cents for each amount (major units) that sum exactly to `total_cents` (default: the
    sum rounded half-up), by largest remainder:

    1. each amount, in cents, is rounded down;
    2. the cents still missing go one each to the amounts that lost most in step 1 (earlier
       first on a tie), wrapping around if more are missing than there are amounts;
    3. cents over the total (a total below the floors' sum) come back from the smallest
       remainders first.

    So line items add up to their day and days to their month, to the cent."""
    if total_cents is None:
        total_cents = to_cents(sum(amounts, Decimal(0)))
    if not amounts:
        return []
    scaled = [amount * MINOR_UNITS_PER_MAJOR for amount in amounts]
    floors = [int(value.to_integral_value(rounding=ROUND_FLOOR)) for value in scaled]
    order = sorted(range(len(amounts)), key=lambda i: (-(scaled[i] - floors[i]), i))
    missing = total_cents - sum(floors)
    step = 1 if missing >= 0 else -1
    if step < 0:
        order.reverse()
    for k in range(abs(missing)):
        floors[order[k % len(order)]] += step
    return floors


def format_unit_price(price: Decimal, currency: str = "usd") -> str:
    """A unit price as exact as stored but without trailing zeros past the cent: $0.023,
    $0.19, $1.50. Display only."""
    symbol = "$" if currency.lower() == "usd" else f"{currency.upper()} "
    text = f"{price.normalize():f}"
    whole, _, fraction = text.partition(".")
    return f"{symbol}{int(whole):,}.{fraction.ljust(2, '0')}"
