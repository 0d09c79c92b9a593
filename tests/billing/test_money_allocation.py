"""Allocated rounding (billing.ledger.money.allocate_cents): the cents always sum exactly to
the total, and no share moves more than a cent from its exact amount."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billing.ledger.money import allocate_cents, to_cents

amounts = st.lists(
    st.decimals(min_value=0, max_value=10_000, places=6, allow_nan=False, allow_infinity=False),
    max_size=40,
)


@given(amounts)
def test_allocated_cents_sum_exactly_to_the_rounded_total(values):
    cents = allocate_cents(values)
    assert sum(cents) == to_cents(sum(values, Decimal(0)))
    for value, share in zip(values, cents, strict=True):
        assert abs(Decimal(share) - value * 100) < 1


@given(amounts.filter(bool), st.integers(min_value=-3, max_value=3))
def test_allocated_cents_sum_exactly_to_a_given_total(values, off_by):
    total = to_cents(sum(values, Decimal(0))) + off_by
    assert sum(allocate_cents(values, total)) == total


def test_the_missing_cent_goes_to_the_largest_remainder():
    assert allocate_cents([Decimal("0.335"), Decimal("0.335"), Decimal("0.335")]) == [34, 34, 33]
    assert allocate_cents([Decimal("0.101"), Decimal("0.109")]) == [10, 11]
    assert allocate_cents([]) == []
