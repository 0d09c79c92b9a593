"""Display filters for money and quantities (formatting only; billing.ledger.money rounds)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from billing.ledger.money import format_cents, round_cost, to_cents

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
    if value is None:
        return "not measured"
    text = f"{round_cost(Decimal(value)):,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
