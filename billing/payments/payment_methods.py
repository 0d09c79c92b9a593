"""The default payment method of a postpaid account, as Stripe's webhooks tell it (never
fetched per page view), and the door to Stripe's hosted customer portal where the user adds
or replaces a card and sees invoices and receipts."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from billing.ledger.errors import BillingError
from billing.models import BillingAccount
from billing.payments import gateway


class PortalUnavailable(BillingError):
    """Stripe could not open the portal; nothing was written."""


def portal_url(*, account: BillingAccount) -> str:
    """A one-time customer portal URL returning to /billing/. Writes nothing."""
    if not account.stripe_customer_id:
        raise PortalUnavailable("Your billing profile is still being set up; try again shortly.")
    try:
        return gateway.portal_session_create(
            customer_id=account.stripe_customer_id, return_url=f"{settings.SITE_URL}/billing/"
        )
    except gateway.StripeError as exc:
        raise PortalUnavailable(
            "Stripe is not reachable right now, so the payment page cannot open. "
            "Nothing was changed; please try again in a few minutes."
        ) from exc


def _card(payment_method) -> tuple[str, str]:
    card = _get(payment_method, "card") or {}
    brand = _get(card, "display_brand") or _get(card, "brand") or _get(payment_method, "type")
    return str(brand or "")[:32], str(_get(card, "last4") or "")[:4]


def _get(obj, key: str):
    if obj is None:
        return None
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


@transaction.atomic
def payment_method_set(
    *, account: BillingAccount, payment_method, event_created: int, only_if_none: bool = False
) -> bool:
    """Record `payment_method` (a PaymentMethod object or dict, or None to clear) as the
    account's default, unless a newer event already set it. Returns whether it changed."""
    account = BillingAccount.objects.select_for_update().get(pk=account.pk)
    if event_created < account.payment_method_event_at:
        return False
    if only_if_none and account.payment_method_id:
        return False
    brand, last4 = _card(payment_method) if payment_method is not None else ("", "")
    account.payment_method_id = str(_get(payment_method, "id") or "")
    account.payment_method_brand, account.payment_method_last4 = brand, last4
    account.payment_method_event_at = event_created
    account.save(
        update_fields=[
            "payment_method_id",
            "payment_method_brand",
            "payment_method_last4",
            "payment_method_event_at",
            "updated_at",
        ]
    )
    return True


def payment_method_customer_updated(*, account: BillingAccount, customer: dict, created: int):
    """`customer.updated`: the default payment method (invoice_settings) is the truth."""
    default = (customer.get("invoice_settings") or {}).get("default_payment_method")
    if isinstance(default, str):
        default = gateway.payment_method_retrieve(default)
    payment_method_set(account=account, payment_method=default or None, event_created=created)


def payment_method_attached(*, account: BillingAccount, payment_method: dict, created: int):
    """`payment_method.attached`: shown until Stripe names a default (customer.updated)."""
    payment_method_set(
        account=account, payment_method=payment_method, event_created=created, only_if_none=True
    )


def payment_method_detached(*, account: BillingAccount, payment_method: dict, created: int):
    if account.payment_method_id == payment_method.get("id"):
        payment_method_set(account=account, payment_method=None, event_created=created)


def payment_method_setup_succeeded(*, account: BillingAccount, setup_intent: dict, created: int):
    """`setup_intent.succeeded`: the card just saved (through the portal or Checkout)."""
    method = setup_intent.get("payment_method")
    if isinstance(method, str):
        method = gateway.payment_method_retrieve(method)
    if method:
        payment_method_set(account=account, payment_method=method, event_created=created)
