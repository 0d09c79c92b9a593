"""What each Stripe event type does to our records. webhooks/ verifies the delivery, stores it
once and dispatches here; a handler runs once per stored event, inside its transaction. A
handler that reads from Stripe has a `PREPARERS` entry making the same reads first, with no
transaction open; inside the transaction they answer from what was read (a slow Stripe holds
no lock).

Status events are ordered per account under its row lock (billing/payments/event_order.py):
an event older than the last one applied changes no status.
"""

from __future__ import annotations

from collections.abc import Callable

from billing.models import BillingAccount
from billing.payments import (
    auto_topup,
    dunning,
    gateway,
    payment_methods,
    purchases,
    reversals,
    stripe_accounts,
)


def _obj(event: dict) -> dict:
    return event["data"]["object"]


def _checkout_completed(event: dict) -> None:
    purchases.checkout_fulfill(_obj(event)["id"])


def _checkout_failed(event: dict) -> None:
    purchases.checkout_fail(
        session_id=_obj(event)["id"], status="failed", reason="The payment failed."
    )


def _checkout_expired(event: dict) -> None:
    purchases.checkout_fail(
        session_id=_obj(event)["id"], status="expired", reason="The Checkout Session expired."
    )


def _invoice_paid(event: dict) -> None:
    invoice, account = _obj(event), _customer_account(event)
    stripe_accounts.account_invoice_paid(account=account, invoice=invoice, event=event)
    dunning.dunning_invoice_paid(account=account, invoice=invoice)
    stripe_accounts.stripe_mirror(invoice)


def _invoice_payment_failed(event: dict) -> None:
    invoice, account = _obj(event), _customer_account(event)
    latest = stripe_accounts.account_invoice_payment_failed(
        account=account, invoice=invoice, event=event
    )
    if latest:  # a failure older than a payment already applied opens no grace period
        dunning.dunning_payment_failed(account=account, invoice=invoice)
    stripe_accounts.stripe_mirror(invoice)


def _charge_refunded(event: dict) -> None:
    reversals.charge_refunded(account=_customer_account(event), charge=_obj(event))


def _dispute(event: dict) -> None:
    dispute = _obj(event)
    charge = reversals.dispute_charge(dispute)
    account = stripe_accounts.stripe_customer_account(charge.customer)
    if account is None:
        raise LookupError(f"No account for the customer of dispute {dispute.get('id')!r}.")
    if event["type"] == "charge.dispute.closed":
        reversals.dispute_closed(account=account, dispute=dispute, charge=charge)
    else:
        reversals.dispute_opened(account=account, dispute=dispute, charge=charge)


def _customer_updated(event: dict) -> None:
    payment_methods.payment_method_customer_updated(
        account=_customer_account(event), customer=_obj(event), created=event.get("created", 0)
    )
    stripe_accounts.stripe_mirror(_obj(event))


def _payment_method_attached(event: dict) -> None:
    payment_methods.payment_method_attached(
        account=_customer_account(event),
        payment_method=_obj(event),
        created=event.get("created", 0),
    )


def _payment_method_detached(event: dict) -> None:
    payment_methods.payment_method_detached(
        account=_customer_account(event),
        payment_method=_obj(event),
        created=event.get("created", 0),
    )


def _setup_intent_succeeded(event: dict) -> None:
    payment_methods.payment_method_setup_succeeded(
        account=_customer_account(event), setup_intent=_obj(event), created=event.get("created", 0)
    )


def _payment_intent_succeeded(event: dict) -> None:
    auto_topup.auto_topup_payment_succeeded(payment_intent=_obj(event))


def _payment_intent_failed(event: dict) -> None:
    auto_topup.auto_topup_payment_failed(payment_intent=_obj(event))


def _subscription_changed(event: dict) -> None:
    subscription = _obj(event)
    stripe_accounts.account_subscription_changed(
        account=_customer_account(event),
        subscription=subscription,
        deleted=event["type"] == "customer.subscription.deleted",
        event=event,
    )
    stripe_accounts.stripe_mirror(subscription)


HANDLERS: dict[str, Callable[[dict], None]] = {
    "checkout.session.completed": _checkout_completed,
    "checkout.session.async_payment_succeeded": _checkout_completed,
    "checkout.session.async_payment_failed": _checkout_failed,
    "checkout.session.expired": _checkout_expired,
    "invoice.paid": _invoice_paid,
    "invoice.payment_failed": _invoice_payment_failed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
    "customer.updated": _customer_updated,
    "payment_method.attached": _payment_method_attached,
    "payment_method.detached": _payment_method_detached,
    "setup_intent.succeeded": _setup_intent_succeeded,
    "charge.refunded": _charge_refunded,
    "payment_intent.succeeded": _payment_intent_succeeded,
    "payment_intent.payment_failed": _payment_intent_failed,
    "payment_intent.requires_action": _payment_intent_failed,
    "charge.dispute.created": _dispute,
    "charge.dispute.closed": _dispute,
}
def _read_checkout_session(event: dict) -> None:
    gateway.checkout_session_retrieve(_obj(event)["id"])


def _read_refunds(event: dict) -> None:
    charge = _obj(event)
    gateway.checkout_session_for_payment_intent(charge.get("payment_intent") or "")
    gateway.charge_refunds(charge["id"])


def _read_dispute_charge(event: dict) -> None:
    charge = reversals.dispute_charge(_obj(event))
    gateway.checkout_session_for_payment_intent(getattr(charge, "payment_intent", None) or "")


def _read_payment_method(path: tuple[str, ...]) -> Callable[[dict], None]:
    def read(event: dict) -> None:
        found = _obj(event)
        for key in path:
            found = (found or {}).get(key)
        if isinstance(found, str):
            gateway.payment_method_retrieve(found)

    return read


# The Stripe reads each handler makes, made before its transaction (the handler's own calls
# then answer from them; one missed here is still made, inside).
PREPARERS: dict[str, Callable[[dict], None]] = {
    "checkout.session.completed": _read_checkout_session,
    "checkout.session.async_payment_succeeded": _read_checkout_session,
    "charge.refunded": _read_refunds,
    "charge.dispute.created": _read_dispute_charge,
    "charge.dispute.closed": _read_dispute_charge,
    "customer.updated": _read_payment_method(("invoice_settings", "default_payment_method")),
    "setup_intent.succeeded": _read_payment_method(("payment_method",)),
}
# Events after which the user's suspension may have to change at once (a payment resumes; a
# refund or dispute may push a prepaid balance below zero). The beat sweeper catches the rest.
# A payment can only lift: it matters only while the user's work is stopped.
PAYMENT_TRIGGERS = {
    "invoice.paid",
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "payment_intent.succeeded",
}
SUSPENSION_TRIGGERS = PAYMENT_TRIGGERS | {
    "invoice.payment_failed",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
}


def stripe_event_handled(event_type: str) -> bool:
    return event_type in HANDLERS


def stripe_event_prepare(event: dict) -> dict:
    """The Stripe reads the event's handler makes; call it with no transaction open."""
    reads: dict = {}
    prepare = PREPARERS.get(event["type"])
    if prepare:
        with gateway.reads_kept(reads):
            prepare(event)
    return reads


def stripe_event_handle(event: dict, prepared: dict | None = None) -> None:
    with gateway.reads_kept(dict(prepared or {})):
        HANDLERS[event["type"]](event)


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
    elif kind.startswith("charge.dispute."):
        return _dispute_owner_problem(obj)
    elif kind.startswith("payment_intent."):  # only top-ups are ours; the rest is ignored
        return auto_topup.payment_intent_owner_problem(obj)
    elif stripe_accounts.stripe_customer_account(_event_customer(event)) is None:
        return f"Unknown Stripe customer {_event_customer(event)!r}."
    return None


def _dispute_owner_problem(dispute: dict) -> str | None:
    """A Dispute names its charge, not the customer: ask Stripe whose charge it is. Stripe
    unreachable is a problem too (refused now, Stripe delivers again later)."""
    try:
        charge = reversals.dispute_charge(dispute)
    except gateway.StripeError as exc:
        return f"Cannot tell whose charge {dispute.get('charge')!r} is: {exc}"
    if stripe_accounts.stripe_customer_account(charge.customer) is None:
        return f"Unknown Stripe customer {charge.customer!r}."
    return None


def stripe_event_user_id(event: dict) -> int | None:
    """The user a handled event is about (for the suspension follow-up), if ours."""
    obj = _obj(event)
    if event["type"].startswith("checkout.session."):
        filters = {"pk": purchases.checkout_session_account_id(obj)}
    elif event["type"].startswith("charge.dispute."):
        filters = {"charge_reversals__stripe_id": obj.get("id")}
    else:
        filters = {"stripe_customer_id": _event_customer(event)}
    if None in filters.values():  # a guest's payment: filtering on None would match IS NULL
        return None
    # Unordered: `first()` would sort by the model's ordering, a join to the user per event.
    found = BillingAccount.objects.filter(**filters).order_by().values_list("user_id", flat=True)
    return next(iter(found[:1]), None)


def _event_customer(event: dict) -> str | None:
    """The customer an event is about: a Customer's own id; a detached payment method has
    lost its customer, the one it had is in `previous_attributes`."""
    obj = _obj(event)
    if obj.get("object") == "customer":
        return obj.get("id")
    customer = obj.get("customer")
    if not customer and event["type"] == "payment_method.detached":
        previous = (event.get("data") or {}).get("previous_attributes") or {}
        customer = previous.get("customer")
    return customer if isinstance(customer, str) else None


def _customer_account(event: dict) -> BillingAccount:
    account = stripe_accounts.stripe_customer_account(_event_customer(event))
    if account is None:  # checked on arrival; only a deleted account gets here
        raise LookupError(f"No account for Stripe customer {_event_customer(event)!r}.")
    return account
