"""Errors the billing services raise; their messages are safe to show to the user."""

from __future__ import annotations


class BillingError(Exception):
    """A rule of billing refused the request; the message is safe to show."""


class InvalidAmount(BillingError):
    pass


class IdempotencyConflict(BillingError):
    pass


class PrepaidNotAllowed(BillingError):
    pass


class PriceNotFound(BillingError):
    pass
