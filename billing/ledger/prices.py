"""Prices in effect on a day, and the cost of a quantity."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db.models import Q

from billing.ledger.calendar import days_in_month
from billing.ledger.errors import PriceNotFound
from billing.ledger.money import round_cost
from billing.models import (
    API_CALL_RESOURCES,
    STORAGE_RESOURCES,
    BillingAccount,
    CustomPrice,
    Price,
)


def price_lookup(
    *, account: BillingAccount | None, resource: str, day: date, instance_type: str = ""
) -> Decimal:
    """Unit price in effect on `day`: the account's custom price if one covers the day, else the
    catalogue. A price for the exact instance type wins over the any-type price."""
    types = [instance_type, ""] if instance_type else [""]
    for candidate in types:
        if account is not None:
            custom = (
                CustomPrice.objects.filter(
                    account=account,
                    resource=resource,
                    instance_type=candidate,
                    effective_from__lte=day,
                )
                .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=day))
                .order_by("-effective_from")
                .first()
            )
            if custom:
                return custom.unit_price
        price = (
            Price.objects.filter(
                resource=resource, instance_type=candidate, effective_from__lte=day
            )
            .order_by("-effective_from")
            .first()
        )
        if price:
            return price.unit_price
    raise PriceNotFound(
        f"No price for {resource} {instance_type or ''} on {day}.".replace("  ", " ")
    )


def billed_quantity(*, resource: str, quantity: Decimal, day: date) -> Decimal:
    """A day's measured quantity in the unit its price is per (RESOURCE_UNITS): storage GB-days
    are 1/(days in that month) GB-month each, API calls count per 1,000. Not rounded: shown to
    six places beside the price so that quantity x price = cost can be checked by hand."""
    if resource in STORAGE_RESOURCES:
        return quantity / days_in_month(day)
    if resource in API_CALL_RESOURCES:
        return quantity / 1000
    return quantity


def cost_of(*, resource: str, quantity: Decimal, unit_price: Decimal, day: date) -> Decimal:
    """Cost of one day's quantity: its billed quantity (see billed_quantity) times the price."""
    if resource in STORAGE_RESOURCES:
        return round_cost(quantity * unit_price / days_in_month(day))
    if resource in API_CALL_RESOURCES:
        return round_cost(quantity * unit_price / 1000)
    return round_cost(quantity * unit_price)
