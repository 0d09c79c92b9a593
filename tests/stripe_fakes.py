"""Stripe faked at the HTTP boundary: `responses` answers the SDK's requests with objects from
Stripe's own fixtures file, and webhook bodies are signed with Stripe's real scheme.

One fake of Stripe for the unit tests: the payload builders (`stripe_object`, `checkout_session`,
`portal_session`, `stripe_event`), the request signer, and `FakeStripe`, a stateful fake of
customers, subscriptions and prices on a `responses` mock (fixture `stripe_fake` in
tests/accounts/fakes.py, beside the Hopsworks fake). The browser tests' loopback server
(tests/browser/fake_stripe.py) answers with the same builders.

tests/conftest.py loads this module as a plugin, so `stripe_env` and `stripe_http` are fixtures.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import threading
import time
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from tests.fakes.routes import routes_register

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stripe" / "fixtures3.json"
API = "https://stripe.test"
WEBHOOK_SECRET = "whsec_test_secret"


@cache
def _resources() -> dict:
    return json.loads(FIXTURES.read_text())["resources"]


def stripe_object(kind: str, **overrides) -> dict:
    """A Stripe object from the fixtures file with top-level fields overridden."""
    obj = copy.deepcopy(_resources()[kind])
    obj.update(overrides)
    return obj


def stripe_list(data: list, *, url: str = "/", obj: str = "list") -> dict:
    """A page of a Stripe list (or search) answer, the last one."""
    body = {"object": obj, "data": data, "has_more": False, "url": url}
    if obj == "search_result":
        body["next_page"] = None
    return body


def checkout_session(session_id: str, account_id: int, **overrides) -> dict:
    defaults = {
        "id": session_id,
        "client_reference_id": str(account_id),
        "metadata": {"hopsbill_account_id": str(account_id)},
        "currency": "usd",
        "amount_total": 2500,
        "amount_subtotal": 2500,
        "payment_status": "paid",
        "status": "complete",
        "url": f"https://checkout.stripe.test/pay/{session_id}",
    }
    return stripe_object("checkout.session", **{**defaults, **overrides})


def payment_intent(intent_id: str, *, customer: str, amount: int, **overrides) -> dict:
    """A PaymentIntent as Stripe sends it, succeeded unless `status` says otherwise."""
    defaults = {
        "id": intent_id,
        "customer": customer,
        "amount": amount,
        "amount_received": amount if overrides.get("status", "succeeded") == "succeeded" else 0,
        "currency": "usd",
        "status": "succeeded",
        "canceled_at": None,
        "last_payment_error": None,
        "next_action": None,
        "payment_method": "pm_card_visa",
        "client_secret": f"{intent_id}_secret_x",
    }
    return stripe_object("payment_intent", **{**defaults, **overrides})


def stripe_event(event_type: str, obj: dict, *, event_id: str, created: int | None = None) -> dict:
    return stripe_object(
        "event",
        id=event_id,
        type=event_type,
        created=created if created is not None else int(time.time()),
        api_version="2026-08-26.dahlia",
        data={"object": obj},
    )


def sign(body: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """Stripe's scheme: t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<body>" with the endpoint secret>."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def post_event(client, event: dict, *, process: bool = True, **kwargs):
    """Deliver a signed event; with `process`, then do what a worker does with the task the
    delivery queued (run the real task, here), so the test sees the event's effect."""
    body = json.dumps(event).encode()
    response = client.post(
        "/api/webhooks/stripe",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, **kwargs),
    )
    if process and response.status_code == 200 and response.json()["detail"] == "received":
        worker_process(event["id"])
    return response


def worker_process(event_id: str):
    """The Celery task for a stored Stripe event, run here as a worker would run it."""
    from webhooks.models import WebhookEvent
    from webhooks.tasks import process_stripe_event

    stored = WebhookEvent.objects.get(source="stripe", external_id=event_id)
    return process_stripe_event.apply(args=[stored.pk]).get()


def portal_session(session_id: str, *, customer: str, return_url: str, url: str) -> dict:
    return stripe_object(
        "billing_portal.session", id=session_id, customer=customer, return_url=return_url, url=url
    )


def _answer(status: int, body) -> tuple[int, dict, str]:
    return status, {"Content-Type": "application/json"}, json.dumps(body)


class FakeStripe:
    """Customers, subscriptions and prices, honouring idempotency keys like Stripe does."""

    SECRET_KEY = "sk_test_provisioning"

    def __init__(self, rsps: responses.RequestsMock, base: str = API):
        self.customers: list[dict] = []
        self.subscriptions: list[dict] = []
        self.idempotent: dict[str, tuple] = {}
        self.idempotency_keys: list[str] = []
        self.down = False
        self.lookup_keys: list[str] = []
        routes_register(
            rsps,
            base=base,
            routes=[
                ("GET", r"/v1/customers/search", self._search_customers),
                ("POST", r"/v1/customers", self._create_customer),
                ("GET", r"/v1/subscriptions", self._list_subscriptions),
                ("POST", r"/v1/subscriptions", self._create_subscription),
                ("GET", r"/v1/prices", self._list_prices),
            ],
            wrap=self._wrap,
        )

    def _wrap(self, method, handler):
        def callback(request):
            if self.down:
                raise requests.ConnectionError("Stripe is down")
            assert request.headers["Authorization"] == f"Bearer {self.SECRET_KEY}"
            key = request.headers.get("Idempotency-Key")
            if method == "POST" and key:
                self.idempotency_keys.append(key)
                if key in self.idempotent:
                    return self.idempotent[key]
            answer = handler(request)
            if method == "POST" and key:
                self.idempotent[key] = answer
            return answer

        return callback

    @staticmethod
    def _form(request) -> dict[str, str]:
        body = request.body or ""
        if isinstance(body, bytes):
            body = body.decode()
        return {k: v[0] for k, v in parse_qs(body).items()}

    @staticmethod
    def _query(request) -> dict[str, list[str]]:
        return parse_qs(urlsplit(request.url).query)

    @staticmethod
    def _list(url: str, data: list, obj: str = "list") -> tuple:
        return _answer(200, stripe_list(data, url=url, obj=obj))

    def _search_customers(self, request):
        query = self._query(request)["query"][0]
        wanted = re.search(r"hopsbill_account_id'\]:'(\d+)'", query).group(1)
        found = [c for c in self.customers if c["metadata"].get("hopsbill_account_id") == wanted]
        return self._list("/v1/customers/search", found, "search_result")

    def _create_customer(self, request):
        form = self._form(request)
        customer = stripe_object(
            "customer",
            id=f"cus_test{len(self.customers) + 1}",
            email=form.get("email"),
            name=form.get("name"),
            metadata={"hopsbill_account_id": form["metadata[hopsbill_account_id]"]},
        )
        self.customers.append(customer)
        return _answer(200, customer)

    def _list_subscriptions(self, request):
        customer = self._query(request)["customer"][0]
        found = [s for s in self.subscriptions if s["customer"] == customer]
        return self._list("/v1/subscriptions", found)

    def _list_prices(self, request):
        query = self._query(request)
        keys = [v[0] for k, v in sorted(query.items()) if k.startswith("lookup_keys")]
        self.lookup_keys = keys
        prices = []
        for n, key in enumerate(keys):
            price = stripe_object("price", id=f"price_test{n}", lookup_key=key)
            price["recurring"]["usage_type"] = "metered"
            prices.append(price)
        return self._list("/v1/prices", prices)

    def _create_subscription(self, request):
        form = self._form(request)
        subscription = stripe_object(
            "subscription",
            id=f"sub_test{len(self.subscriptions) + 1}",
            customer=form["customer"],
            status="active",
            metadata={"hopsbill_account_id": form["metadata[hopsbill_account_id]"]},
        )
        subscription["items_requested"] = [v for k, v in form.items() if k.endswith("[price]")]
        self.subscriptions.append(subscription)
        return _answer(200, subscription)


class PaymentIntentsFake:
    """POST /v1/payment_intents: answers with `outcome` ("succeeded", "processing",
    "declined", "authentication_required", "error_500", "timeout"), the same answer again
    for a key it has seen, like Stripe. `created` keeps each request's form and key."""

    DECLINES = {
        "declined": ("card_declined", "Your card was declined."),
        "authentication_required": (
            "authentication_required",
            "Your card was declined. This transaction requires authentication.",
        ),
    }

    def __init__(self, rsps: responses.RequestsMock, base: str = API, outcome: str = "succeeded"):
        self.outcome = outcome
        self.created: list[tuple[str, dict]] = []
        self._answers: dict[str, tuple] = {}
        self._lock = threading.Lock()
        rsps.add_callback("POST", f"{base}/v1/payment_intents", callback=self._create)

    def _create(self, request):
        key = request.headers.get("Idempotency-Key", "")
        with self._lock:
            if key in self._answers:
                return self._answers[key]
            form = FakeStripe._form(request)
            self.created.append((key, form))
            if self.outcome == "timeout":
                raise requests.Timeout("Read timed out.")
            answer = self._answer(form, len(self.created))
            self._answers[key] = answer
            return answer

    def _answer(self, form: dict, n: int) -> tuple:
        intent = payment_intent(
            f"pi_auto{n}",
            customer=form["customer"],
            amount=int(form["amount"]),
            payment_method=form["payment_method"],
            metadata={k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
        )
        if self.outcome == "error_500":
            return _answer(500, {"error": {"type": "api_error", "message": "Internal error"}})
        if self.outcome in self.DECLINES:
            code, message = self.DECLINES[self.outcome]
            error = {"code": code, "decline_code": code, "message": message, "type": "card_error"}
            intent |= {"status": "requires_payment_method", "amount_received": 0}
            intent["last_payment_error"] = error
            return _answer(402, {"error": error | {"payment_intent": intent}})
        if self.outcome == "processing":
            intent |= {"status": "processing", "amount_received": 0}
        return _answer(200, intent)


def form_body(call) -> dict:
    """The SDK sends form-encoded bodies; decode one into a flat {key: value} dict."""
    from urllib.parse import parse_qsl

    return dict(parse_qsl(call.request.body or ""))


@pytest.fixture
def stripe_env(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.STRIPE_API_BASE = API
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_MIRROR_ENABLED = False
    return settings


@pytest.fixture
def stripe_http(stripe_env):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps
