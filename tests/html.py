"""Reading the HTML a user gets: elements by data-testid, table rows, displayed amounts."""

from __future__ import annotations

import re
from decimal import Decimal


def text_of(html: str, name: str) -> str:
    """The text of the first element with data-testid=name, tags stripped."""
    match = re.search(rf'data-testid="{re.escape(name)}"[^>]*>(.*?)</(?!span)', html, re.S)
    assert match, f"no data-testid={name!r} in the page"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def table_rows(html: str, name: str) -> list[str]:
    """The body rows of the table with data-testid=name (tables without nested tables)."""
    table = rf'<table[^>]*data-testid="{re.escape(name)}".*?<tbody>(.*?)</tbody>'
    match = re.search(table, html, re.S)
    assert match, f"no table data-testid={name!r} in the page"
    return re.findall(r"<tr>.*?</tr>", match.group(1), re.S)


def shown_amount(text: str) -> Decimal:
    """'$1,234.56' (or '-$1.00') as the Decimal it shows."""
    return Decimal(re.sub(r"[^\d.\-]", "", text))
