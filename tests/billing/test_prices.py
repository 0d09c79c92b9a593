from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.ledger import PriceNotFound, cost_of, price_lookup
from billing.ledger.money import to_cents
from billing.models import CustomPrice, Price, Resource


def test_catalogue_price_in_effect_on_the_day(catalogue, prepaid_account):
    Price.objects.create(
        resource=Resource.CPU_HOURS, unit_price=Decimal("0.05"), effective_from=date(2025, 6, 1)
    )
    assert price_lookup(
        account=prepaid_account, resource=Resource.CPU_HOURS, day=date(2025, 5, 31)
    ) == Decimal("0.04")
    assert price_lookup(
        account=prepaid_account, resource=Resource.CPU_HOURS, day=date(2025, 6, 1)
    ) == Decimal("0.05")


def test_instance_type_price_wins_over_any_type(catalogue, prepaid_account):
    day = date(2025, 1, 1)
    assert price_lookup(
        account=prepaid_account,
        resource=Resource.INSTANCE_HOURS,
        day=day,
        instance_type="m5.xlarge",
    ) == Decimal("0.192")
    assert price_lookup(
        account=prepaid_account, resource=Resource.INSTANCE_HOURS, day=day, instance_type="c5.large"
    ) == Decimal("0.2")


def test_custom_price_overrides_within_its_window(catalogue, prepaid_account):
    CustomPrice.objects.create(
        account=prepaid_account,
        resource=Resource.GPU_HOURS,
        unit_price=Decimal("0.5"),
        effective_from=date(2025, 3, 1),
        effective_to=date(2025, 4, 1),
    )
    lookup = lambda d: price_lookup(account=prepaid_account, resource=Resource.GPU_HOURS, day=d)  # noqa: E731
    assert lookup(date(2025, 2, 28)) == Decimal("0.9")
    assert lookup(date(2025, 3, 15)) == Decimal("0.5")
    assert lookup(date(2025, 4, 1)) == Decimal("0.9")


def test_missing_price_is_an_error(db):
    with pytest.raises(PriceNotFound):
        price_lookup(account=None, resource=Resource.GPU_HOURS, day=date(2025, 1, 1))


@pytest.mark.parametrize(
    ("resource", "quantity", "unit_price", "cost"),
    [
        (Resource.CPU_HOURS, "96", "0.04", "3.840000"),
        (Resource.STORAGE_DATASETS, "28", "0.023", "0.023000"),  # a month's share of a GB-month
        (Resource.API_CALLS_JOBS, "200", "0.05", "0.010000"),  # priced per 1,000 calls
    ],
)
def test_costs_are_exact_decimals(resource, quantity, unit_price, cost):
    day = date(2025, 2, 10)  # February 2025 has 28 days
    assert cost_of(
        resource=resource, quantity=Decimal(quantity), unit_price=Decimal(unit_price), day=day
    ) == Decimal(cost)


def test_cents_round_half_up():
    assert to_cents(Decimal("0.005")) == 1
    assert to_cents(Decimal("0.004999")) == 0
