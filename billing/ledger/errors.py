"""Errors the billing services raise. Each carries its HTTP status and, when it is about one
input, the service argument it names (see config.errors.DomainError); messages are safe to show."""

from __future__ import annotations

from config.errors import DomainError


class BillingError(DomainError):
    """A rule of billing refused the request; the message is safe to show."""

    http_status = 400


class InvalidAmount(BillingError):
    field = "amount_cents"


class IdempotencyConflict(BillingError):
    http_status = 409


class PrepaidNotAllowed(BillingError):
    """This account may not do what only prepaid accounts do."""

    http_status = 403


class PrepaidSwitchedOff(PrepaidNotAllowed):
    """Prepaid billing is off for everyone (PREPAID_FEATURE_ENABLED): the request conflicts
    with the service's state, not with the caller's rights."""

    http_status = 409


class PriceNotFound(BillingError):
    pass
