"""The one module that talks to Stripe. Everything else calls these functions; tests fake the
wire beneath them (`responses`, since the client below sends through `requests`).

Every create call carries an idempotency key derived from a local row, so a retry after a
timeout cannot create a second object.
"""

from __future__ import annotations

import functools
import logging
import threading
from contextlib import contextmanager
from contextvars import ContextVar

import stripe
from django.conf import settings

from billing.models import BillingAccount
from config.errors import DomainError

logger = logging.getLogger(__name__)

# The API version stripe-python 15.x targets; pinned so an SDK upgrade cannot change payloads.
API_VERSION = "2026-08-26.dahlia"
# Lookup keys of the metered prices a postpaid subscription carries (created by setup_stripe).
METERED_PRICE_LOOKUP_KEYS_SETTING = "STRIPE_METERED_PRICE_LOOKUP_KEYS"


class StripeError(DomainError):
    """Stripe refused or failed; the message is safe to show and log (no secrets)."""

    http_status = 502
    page_message = "The payment service is not answering. Please try again in a minute."


class StripeNotConfigured(StripeError):
    http_status = 503


class StripeUnavailable(StripeError):
    """Network trouble, Stripe 5xx or rate limiting: retry later."""

    http_status = 503

    @property
    def user_message(self) -> str:
        return f"{self}. Nothing was charged; please try again shortly."


class StripeRequestRefused(StripeError):
    """Stripe answered 4xx: retrying the same request will not help."""

    http_status = 502


class StripeCardDeclined(StripeRequestRefused):
    """The card was declined, or the bank wants the customer present (3-D Secure):
    `code` is Stripe's (card_declined, authentication_required ...), `payment_intent_id` the
    PaymentIntent it left behind, if any."""

    def __init__(self, message: str, *, code: str = "", payment_intent_id: str = ""):
        super().__init__(message)
        self.code = code
        self.payment_intent_id = payment_intent_id


# Reads kept for a webhook handler (billing/payments/events.py `PREPARERS`): made before its
# transaction opens, answered again from here inside it, so a slow Stripe holds no lock.
_reads: ContextVar[dict | None] = ContextVar("stripe_reads", default=None)


@contextmanager
def reads_kept(reads: dict):
    """Inside: a `_keepable` read already in `reads` answers from there (no HTTP); any other
    asks Stripe and is kept in `reads`."""
    token = _reads.set(reads)
    try:
        yield reads
    finally:
        _reads.reset(token)


def _keepable(fn):
    @functools.wraps(fn)
    def read(*args):
        reads, key = _reads.get(), (fn.__name__, *args)
        if reads is not None and key in reads:
            return reads[key]
        result = fn(*args)
        if reads is not None:
            reads[key] = result
        return result

    return read


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def client() -> stripe.StripeClient:
    if not is_configured():
        raise StripeNotConfigured("Stripe is not configured (set STRIPE_SECRET_KEY).")
    return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE, threading.get_ident())


@functools.lru_cache(maxsize=64)
def _client(api_key: str, api_base: str, thread_id: int) -> stripe.StripeClient:
    """One client per key, base and thread: its requests session keeps connections alive
    (a requests session is not shared between threads)."""
    return stripe.StripeClient(
        api_key=api_key,
        stripe_version=API_VERSION,
        base_addresses={"api": api_base},
        http_client=stripe.RequestsClient(timeout=20),
        max_network_retries=0,
    )


# Stripe's documented limits; a longer value is a 400 that fails every retry.
NAME_MAX = 256
EMAIL_MAX = 512
METADATA_KEY_MAX = 40
METADATA_VALUE_MAX = 500


def fit_params(params: dict) -> dict:
    """`params` within Stripe's limits, at any depth: names cut to 256 characters, metadata
    keys to 40 and values to 500; an email over 512 is left out (a cut address would be
    someone else's)."""
    fitted = {}
    for key, value in params.items():
        if key == "metadata" and isinstance(value, dict):
            value = {
                str(k)[:METADATA_KEY_MAX]: str(v)[:METADATA_VALUE_MAX] for k, v in value.items()
            }
        elif isinstance(value, dict):
            value = fit_params(value)
        elif isinstance(value, list):
            value = [fit_params(item) if isinstance(item, dict) else item for item in value]
        elif key == "name" and isinstance(value, str):
            value = value[:NAME_MAX]
        elif key == "email" and isinstance(value, str) and len(value) > EMAIL_MAX:
            logger.warning("email over %s characters left out of a Stripe request", EMAIL_MAX)
            continue
        fitted[key] = value
    return fitted


def call(fn, *args, **kwargs):
    """Run one SDK call, its parameters fitted to Stripe's limits, and turn Stripe's
    exceptions into ours. (The first dict argument is the request's parameters; a second one
    is the request options.)"""
    if args and isinstance(args[0], dict):
        args = (fit_params(args[0]), *args[1:])
    elif len(args) > 1 and isinstance(args[0], str) and isinstance(args[1], dict):
        args = (args[0], fit_params(args[1]), *args[2:])
    try:
        return fn(*args, **kwargs)
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise StripeUnavailable(
            f"Stripe unavailable: {exc.user_message or type(exc).__name__}"
        ) from exc
    except stripe.CardError as exc:
        intent = (getattr(exc, "json_body", None) or {}).get("error", {}).get("payment_intent")
        raise StripeCardDeclined(
            f"The card was declined: {exc.user_message or exc.code}",
            code=exc.code or "",
            payment_intent_id=(intent or {}).get("id", "") if isinstance(intent, dict) else "",
        ) from exc
    except stripe.StripeError as exc:
        status = getattr(exc, "http_status", None) or 0
        message = exc.user_message or type(exc).__name__
        if status >= 500:
            raise StripeUnavailable(f"Stripe error {status}: {message}") from exc
        raise StripeRequestRefused(f"Stripe refused the request ({status}): {message}") from exc


def customer_ensure(*, account: BillingAccount) -> str:
    """The account's Stripe customer id: the stored one, else one found by our account id in
    metadata, else a new customer (idempotency key from the account id). Stores the id."""
    if account.stripe_customer_id:
        return account.stripe_customer_id
    sc = client()
    found = call(
        sc.v1.customers.search,
        {"query": f"metadata['hopsbill_account_id']:'{account.pk}'", "limit": 1},
    )
    if found.data:
        customer_id = found.data[0].id
    else:
        customer = call(
            sc.v1.customers.create,
            {
                "email": account.user.email,
                "name": account.user.get_full_name(),
                "metadata": {"hopsbill_account_id": str(account.pk)},
            },
            {"idempotency_key": f"customer:{account.pk}"},
        )
        customer_id = customer.id
    BillingAccount.objects.filter(pk=account.pk).update(stripe_customer_id=customer_id)
    account.stripe_customer_id = customer_id
    return customer_id


def subscription_ensure(*, account: BillingAccount) -> str:
    """The postpaid account's metered subscription id: stored, found on the customer, or new."""
    if account.stripe_subscription_id:
        return account.stripe_subscription_id
    customer_id = customer_ensure(account=account)
    sc = client()
    existing = call(
        sc.v1.subscriptions.list, {"customer": customer_id, "status": "all", "limit": 10}
    )
    live = [s for s in existing.data if s.status not in {"canceled", "incomplete_expired"}]
    if live:
        subscription_id = live[0].id
    else:
        prices = call(
            sc.v1.prices.list,
            {"lookup_keys": metered_price_lookup_keys(), "active": True, "limit": 20},
        )
        if not prices.data:
            raise StripeRequestRefused(
                "No metered prices in Stripe: run `manage.py setup_stripe` first."
            )
        subscription = call(
            sc.v1.subscriptions.create,
            {
                "customer": customer_id,
                "items": [{"price": price.id} for price in prices.data],
                "metadata": {"hopsbill_account_id": str(account.pk)},
            },
            {"idempotency_key": f"subscription:{account.pk}"},
        )
        subscription_id = subscription.id
    BillingAccount.objects.filter(pk=account.pk).update(stripe_subscription_id=subscription_id)
    account.stripe_subscription_id = subscription_id
    return subscription_id


def metered_price_lookup_keys() -> list[str]:
    return list(getattr(settings, METERED_PRICE_LOOKUP_KEYS_SETTING))


def checkout_session_create(
    *,
    purchase_id: int,
    customer_id: str | None,
    account_id: int,
    amount_cents: int,
    currency: str,
    success_url: str,
    cancel_url: str,
    save_card: bool = False,
) -> tuple[str, str]:
    """A payment-mode Checkout Session for a credit purchase; returns (session id, URL).
    `save_card`: the card is kept on the customer for off-session top-ups."""
    params = {
        "mode": "payment",
        "client_reference_id": str(account_id),
        "success_url": success_url,
        "cancel_url": cancel_url,
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency,
                    "unit_amount": amount_cents,
                    "product_data": {"name": "Hopsworks credits"},
                },
            }
        ],
        "metadata": {
            "hopsbill_account_id": str(account_id),
            "hopsbill_purchase_id": str(purchase_id),
        },
    }
    if customer_id:
        params["customer"] = customer_id
    if save_card:
        params["payment_intent_data"] = {"setup_future_usage": "off_session"}
    session = call(
        client().v1.checkout.sessions.create,
        params,
        {"idempotency_key": f"checkout:{purchase_id}"},
    )
    return session.id, session.url


def checkout_setup_session_create(
    *, customer_id: str, account_id: int, currency: str, success_url: str, cancel_url: str
) -> str:
    """A setup-mode Checkout Session that saves a card for off-session top-ups, buying
    nothing; its URL. (Nothing to key it by: an abandoned session just expires.)"""
    session = call(
        client().v1.checkout.sessions.create,
        {
            "mode": "setup",
            "currency": currency,
            "customer": customer_id,
            "client_reference_id": str(account_id),
            "success_url": success_url,
            "cancel_url": cancel_url,
            "setup_intent_data": {"metadata": {"hopsbill_account_id": str(account_id)}},
            "metadata": {"hopsbill_account_id": str(account_id)},
        },
    )
    return session.url


def payment_intent_charge_off_session(
    *,
    customer_id: str,
    payment_method_id: str,
    amount_cents: int,
    currency: str,
    metadata: dict,
    idempotency_key: str,
):
    """Charge a saved card with the customer away: a confirmed, off-session PaymentIntent.
    StripeCardDeclined when the bank declines or wants authentication."""
    return call(
        client().v1.payment_intents.create,
        {
            "amount": amount_cents,
            "currency": currency,
            "customer": customer_id,
            "payment_method": payment_method_id,
            "off_session": True,
            "confirm": True,
            "description": "Hopsworks credits (auto top-up)",
            "metadata": metadata,
        },
        {"idempotency_key": idempotency_key},
    )


@_keepable
def checkout_session_retrieve(session_id: str):
    """The Checkout Session as Stripe has it now (fulfilment trusts this, not the event)."""
    return call(client().v1.checkout.sessions.retrieve, session_id)


def checkout_sessions_list(*, created_gte: int, created_lt: int) -> list:
    """Every Checkout Session created in [created_gte, created_lt), following pagination."""
    params = {"created": {"gte": created_gte, "lt": created_lt}, "limit": 100}
    return _list_all(client().v1.checkout.sessions.list, params)


def _list_all(fn, params: dict) -> list:
    items: list = []
    while True:
        page = call(fn, params)
        items.extend(page.data)
        if not page.has_more or not page.data:
            return items
        params = {**params, "starting_after": page.data[-1].id}


# --- Billing Meters -----------------------------------------------------------------------------


def meter_event_create(
    *, event_name: str, customer_id: str, value: int, identifier: str, timestamp: int
):
    """One meter event. Stripe deduplicates on `identifier` (24 h), and the idempotency key
    (the same identifier) covers a retried request, so a resend cannot count twice."""
    return call(
        client().v1.billing.meter_events.create,
        {
            "event_name": event_name,
            "identifier": identifier,
            "timestamp": timestamp,
            "payload": {"stripe_customer_id": customer_id, "value": str(value)},
        },
        {"idempotency_key": f"meter-event:{identifier}"},
    )


def meter_event_cancel(*, event_name: str, identifier: str):
    """Cancel a meter event (Stripe allows it within 24 hours of receiving the event)."""
    return call(
        client().v1.billing.meter_event_adjustments.create,
        {"event_name": event_name, "type": "cancel", "cancel": {"identifier": identifier}},
        {"idempotency_key": f"meter-event-cancel:{identifier}"},
    )


def meter_find(*, event_name: str):
    """The active meter for an event name, or None."""
    for meter in _list_all(client().v1.billing.meters.list, {"limit": 100, "status": "active"}):
        if meter.event_name == event_name:
            return meter
    return None


def meter_usage_total(*, meter_id: str, customer_id: str, start_time: int, end_time: int) -> int:
    """Stripe's aggregated meter value for a customer over [start_time, end_time)."""
    summaries = _list_all(
        lambda params: client().v1.billing.meters.event_summaries.list(meter_id, params),
        {"customer": customer_id, "start_time": start_time, "end_time": end_time, "limit": 100},
    )
    return sum(int(round(s.aggregated_value)) for s in summaries)


# --- Catalogue (setup_stripe) -------------------------------------------------------------------


def product_ensure(*, key: str, name: str) -> str:
    """A product found by metadata `hopsbill_key`, else created (idempotency key from `key`)."""
    sc = client()
    found = call(sc.v1.products.search, {"query": f"metadata['hopsbill_key']:'{key}'"})
    if found.data:
        return found.data[0].id
    product = call(
        sc.v1.products.create,
        {"name": name, "metadata": {"hopsbill_key": key}},
        {"idempotency_key": f"product:{key}"},
    )
    return product.id


def meter_ensure(*, event_name: str, display_name: str) -> str:
    """A sum meter keyed by customer id in the payload, found by event name or created."""
    meter = meter_find(event_name=event_name)
    if meter is not None:
        return meter.id
    meter = call(
        client().v1.billing.meters.create,
        {
            "display_name": display_name,
            "event_name": event_name,
            "default_aggregation": {"formula": "sum"},
            "customer_mapping": {"type": "by_id", "event_payload_key": "stripe_customer_id"},
            "value_settings": {"event_payload_key": "value"},
        },
        {"idempotency_key": f"meter:{event_name}"},
    )
    return meter.id


def metered_price_ensure(
    *, lookup_key: str, product_id: str, meter_id: str, unit_amount_decimal: str, currency: str
) -> str:
    """A monthly metered price on the meter, found by lookup key or created."""
    sc = client()
    found = call(sc.v1.prices.list, {"lookup_keys": [lookup_key], "limit": 1})
    if found.data:
        return found.data[0].id
    price = call(
        sc.v1.prices.create,
        {
            "currency": currency,
            "product": product_id,
            "lookup_key": lookup_key,
            "unit_amount_decimal": unit_amount_decimal,
            "billing_scheme": "per_unit",
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter_id},
        },
        {"idempotency_key": f"price:{lookup_key}"},
    )
    return price.id


# --- Charges, refunds, disputes -------------------------------------------------------------------


@_keepable
def charge_retrieve(charge_id: str):
    return call(client().v1.charges.retrieve, charge_id)


@_keepable
def charge_refunds(charge_id: str) -> list:
    """Every refund of a charge (the Charge object no longer embeds them)."""
    return _list_all(client().v1.refunds.list, {"charge": charge_id, "limit": 100})


@_keepable
def checkout_session_for_payment_intent(payment_intent_id: str):
    """The Checkout Session that created a PaymentIntent, or None (an invoice payment)."""
    if not payment_intent_id:
        return None
    page = call(
        client().v1.checkout.sessions.list, {"payment_intent": payment_intent_id, "limit": 1}
    )
    return page.data[0] if page.data else None


# --- Payment methods and the customer portal -----------------------------------------------------


@_keepable
def payment_method_retrieve(payment_method_id: str):
    return call(client().v1.payment_methods.retrieve, payment_method_id)


PORTAL_KEY = "hopsbill_portal"
PORTAL_FEATURES = {
    "payment_method_update": {"enabled": True},
    "invoice_history": {"enabled": True},
    "customer_update": {"enabled": True, "allowed_updates": ["email", "address", "tax_id"]},
    # Plans are ours to change, never the customer's.
    "subscription_update": {"enabled": False},
    "subscription_cancel": {"enabled": False},
}


def portal_configuration_ensure(*, return_url: str) -> str:
    """The customer portal configuration: payment method update and invoice history, no plan
    switching or cancelling. Found by our metadata key and updated, else created."""
    sc = client()
    params = {
        "features": PORTAL_FEATURES,
        "default_return_url": return_url,
        "metadata": {"hopsbill_key": PORTAL_KEY},
    }
    for configuration in _list_all(sc.v1.billing_portal.configurations.list, {"limit": 100}):
        if (configuration.metadata or {}).get("hopsbill_key") == PORTAL_KEY:
            call(sc.v1.billing_portal.configurations.update, configuration.id, params)
            return configuration.id
    created = call(
        sc.v1.billing_portal.configurations.create,
        {**params, "business_profile": {"headline": "Hopsworks billing"}},
        {"idempotency_key": f"portal-configuration:{PORTAL_KEY}"},
    )
    return created.id


def portal_session_create(*, customer_id: str, return_url: str) -> str:
    """A one-time URL of Stripe's hosted customer portal for this customer."""
    params = {"customer": customer_id, "return_url": return_url}
    if settings.STRIPE_PORTAL_CONFIGURATION_ID:
        params["configuration"] = settings.STRIPE_PORTAL_CONFIGURATION_ID
    session = call(client().v1.billing_portal.sessions.create, params)
    return session.url


# --- webhooks and the dj-stripe mirror ------------------------------------------------------


class WebhookSignatureInvalid(StripeError):
    """The Stripe-Signature header does not match the body, or is too old."""


def webhook_signature_verify(*, payload: str, signature: str, secret: str, tolerance: int):
    """Stripe's signature scheme on the raw body; WebhookSignatureInvalid when it fails."""
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise WebhookSignatureInvalid(str(exc)) from exc
    except (TypeError, ValueError) as exc:
        # hmac.compare_digest refuses a non-ASCII header (TypeError); a bad timestamp number.
        raise WebhookSignatureInvalid("malformed Stripe-Signature header") from exc


MIRRORED_OBJECTS = {
    "customer": stripe.Customer,
    "subscription": stripe.Subscription,
    "invoice": stripe.Invoice,
}


def mirror_object(obj: dict):
    """The SDK object dj-stripe syncs a Customer, Subscription or Invoice payload from (it
    wants SDK objects it can page). dj-stripe makes some nested fetches (a subscription's
    items) through the SDK's module-level client without a key of their own, so that one
    client is pointed where ours goes; this is the only place that touches it."""
    stripe.api_base = settings.STRIPE_API_BASE
    stripe.api_key = settings.STRIPE_SECRET_KEY
    return MIRRORED_OBJECTS[obj["object"]].construct_from(obj, settings.STRIPE_SECRET_KEY)
