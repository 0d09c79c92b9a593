"""What the `responses`-based fakes of outside services share: one callback per route."""

from __future__ import annotations

import re


def routes_register(rsps, *, base: str, routes, wrap) -> None:
    """Register `(method, path pattern, handler)` routes under `base`; a query string may
    follow any path. `wrap(method, handler)` gives the callback (auth, outages, bookkeeping)."""
    for method, pattern, handler in routes:
        rsps.add_callback(
            method,
            re.compile(re.escape(base) + pattern + r"(\?.*)?$"),
            callback=wrap(method, handler),
        )
