"""Display filters and tags for money and quantities (formatting only; billing.ledger.money
rounds, billing.portal.display words it)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from billing.ledger.money import format_cents, to_cents
from billing.portal import display

register = template.Library()


@register.filter
def money(value, currency: str | None = None) -> str:
    """A Decimal amount in major units, shown to the cent."""
    if value is None:
        return ""
    return format_cents(to_cents(Decimal(value)), currency)


@register.filter
def cents(value, currency: str | None = None) -> str:
    if value is None:
        return ""
    return format_cents(int(value), currency)


@register.filter
def quantity(value) -> str:
    """A measured quantity without trailing zeros; None is never shown as zero."""
    return display.quantity(None if value is None else Decimal(value))


@register.simple_tag
def measured(share) -> str:
    """A breakdown row's measured quantity with its unit, or "Not measured"."""
    return display.quantity(share.quantity, share.measured_unit)


@register.simple_tag
def billed(share, currency: str) -> str:
    """ "0.966667 GB-month × $0.023 / GB-month" for a breakdown row."""
    if share.quantity is None:
        return display.NOT_MEASURED
    if share.unit_price is None:
        return f"{display.quantity(share.billed_quantity, share.price_unit)} (price changed)"
    return display.formula(share.billed_quantity, share.price_unit, share.unit_price, currency)
