from __future__ import annotations

from tests.accounts.fakes import cluster, fake_http, hopsworks, stripe_fake

__all__ = ["cluster", "fake_http", "hopsworks", "stripe_fake"]
