from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_cache():
    """The billing page caches its panels; every test starts without them."""
    cache.clear()
    yield
    cache.clear()
