"""The one rule for ids that arrive as strings (query strings, form fields, Stripe metadata).

`str.isdigit()` accepts "²" and "①", which `int()` then refuses (a 500); and an id of 30
digits overflows the database's bigint. An id here is 1 to 18 ASCII digits, not all zeros.
"""

from __future__ import annotations

import re

_ID = re.compile(r"[0-9]{1,18}")


def is_id(raw: object) -> bool:
    return parse_id(raw) is not None


def parse_id(raw: object) -> int | None:
    """The positive integer id `raw` spells, or None. Ints pass through when positive."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 0 < raw < 10**18 else None
    if not isinstance(raw, str) or not _ID.fullmatch(raw):
        return None
    value = int(raw)
    return value or None
