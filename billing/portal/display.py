"""How quantities, unit prices and costs read, in one place for the page, the CSV and the
API's text fields. Display only: nothing here is parsed back or used in arithmetic."""

from __future__ import annotations

from decimal import Decimal

from billing.ledger.money import format_cents, format_unit_price, round_cost

NOT_MEASURED = "Not measured"


def quantity(value: Decimal | None, unit: str = "") -> str:
    """A quantity to at most six places, without trailing zeros, with its unit."""
    if value is None:
        return NOT_MEASURED
    text = f"{round_cost(value):,f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return f"{text} {unit}".strip()


def unit_price(price: Decimal | None, unit: str, currency: str) -> str:
    """ "$0.023 / GB-month"."""
    if price is None:
        return ""
    return f"{format_unit_price(price, currency)} / {unit}"


def formula(billed: Decimal | None, unit: str, price: Decimal | None, currency: str) -> str:
    """ "0.666667 GB-month × $0.05 / GB-month": what the line's cost is the product of."""
    if billed is None or price is None:
        return NOT_MEASURED
    return f"{quantity(billed, unit)} × {unit_price(price, unit, currency)}"


def cents(value: int | None, currency: str) -> str:
    return NOT_MEASURED if value is None else format_cents(value, currency)


def share(value: Decimal) -> str:
    return f"{value}%"
