"""The strict id rule: ASCII digits only, within bigint, never zero."""

from __future__ import annotations

import pytest

from config.ids import parse_id

NOT_IDS = ["²", "①", "1²", "١٢", " 1", "1 ", "-1", "+1", "0", "00", "", "1e3"]


@pytest.mark.parametrize("raw", NOT_IDS)
def test_anything_but_plain_ascii_digits_is_not_an_id(raw):
    assert parse_id(raw) is None


def test_a_number_beyond_bigint_is_not_an_id():
    assert parse_id("9" * 19) is None


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("007", 7), (42, 42)])
def test_plain_digits_and_positive_ints_are_ids(raw, expected):
    assert parse_id(raw) == expected


@pytest.mark.parametrize("raw", [None, True, 0, -3, 1.0, ["1"]])
def test_other_types_are_not_ids(raw):
    assert parse_id(raw) is None
