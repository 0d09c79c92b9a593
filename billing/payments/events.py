"""What each Stripe event type does to our records. webhooks/ verifies the delivery, stores it
once and dispatches here; a handler runs once per stored event, inside its transaction.

`latest` is False for a status event older than one already applied for the same customer
(reordering): the later event carries the newer truth, so the older one must not undo it.
"""

from __future__ import annotations

from collections.abc import Callable

from billing.models import BillingAccount
from billing.payments import purchases, stripe_accounts


def _obj(event: dict) -> dict:
    return event["data"]["object"]


def _checkout_completed(event: dict, latest: bool) -> None:
    purchases.checkout_fulfill(_obj(event)["id"])


def _checkout_failed(event: dict, latest: bool) -> None:
    purchases.checkout_fail(
        session_id=_obj(event)["id"], status="failed", reason="The payment failed."
    )


def _checkout_expired(event: dict, latest: bool) -> None:
    purchases.checkout_fail(
        session_id=_obj(event)["id"], status="expired", reason="The Checkout Session expired."
    )


def _invoice_paid(event: dict, latest: bool) -> None:
    invoice = _obj(event)
    stripe_accounts.account_invoice_paid(
        account=_customer_account(event), invoice=invoice, apply_status=latest
    )
    stripe_accounts.stripe_mirror(invoice)


def _invoice_payment_failed(event: dict, latest: bool) -> None:
    invoice = _obj(event)
    stripe_accounts.account_invoice_payment_failed(
        account=_customer_account(event), invoice=invoice, apply_status=latest
    )
    stripe_accounts.stripe_mirror(invoice)


def _subscription_changed(event: dict, latest: bool) -> None:
    subscription = _obj(event)
    stripe_accounts.account_subscription_changed(
        account=_customer_account(event),
        subscription=subscription,
        deleted=event["type"] == "customer.subscription.deleted",
        apply_status=latest,
    )
    stripe_accounts.stripe_mirror(subscription)


HANDLERS: dict[str, Callable[[dict, bool], None]] = {
    "checkout.session.completed": _checkout_completed,
    "checkout.session.async_payment_succeeded": _checkout_completed,
    "checkout.session.async_payment_failed": _checkout_failed,
    "checkout.session.expired": _checkout_expired,
    "invoice.paid": _invoice_paid,
    "invoice.payment_failed": _invoice_payment_failed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
}
# Events that set a customer's account status: their order per customer matters.
CUSTOMER_STATUS_TYPES = [t for t in HANDLERS if t.startswith(("invoice.", "customer."))]


def stripe_event_handled(event_type: str) -> bool:
    return event_type in HANDLERS


def stripe_event_handle(event: dict, *, latest: bool) -> None:
    HANDLERS[event["type"]](event, latest)


def stripe_event_owner_problem(event: dict) -> str | None:
    """Why a handled event names no account of ours (None when it does, or is not handled)."""
    kind = event["type"]
    if kind not in HANDLERS:
        return None
    obj = _obj(event)
    if kind.startswith("checkout.session."):
        account_id = purchases.checkout_session_account_id(obj)
        if account_id is None or not BillingAccount.objects.filter(pk=account_id).exists():
            return f"Checkout Session {obj.get('id')!r} names no account of ours."
    elif stripe_accounts.stripe_customer_account(obj.get("customer")) is None:
        return f"Unknown Stripe customer {obj.get('customer')!r}."
    return None


def _customer_account(event: dict) -> BillingAccount:
    account = stripe_accounts.stripe_customer_account(_obj(event).get("customer"))
    if account is None:  # checked on arrival; only a deleted account gets here
        raise LookupError(f"No account for Stripe customer {_obj(event).get('customer')!r}.")
    return account
