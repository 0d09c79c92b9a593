"""Stripe faked at the HTTP boundary: `responses` answers the SDK's requests with objects from
Stripe's own fixtures file, and webhook bodies are signed with Stripe's real scheme.

tests/conftest.py loads this module as a plugin, so `stripe_env` and `stripe_http` are fixtures.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from functools import cache
from pathlib import Path

import pytest
import responses

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


def post_event(client, event: dict, **kwargs):
    body = json.dumps(event).encode()
    return client.post(
        "/api/webhooks/stripe",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, **kwargs),
    )


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
