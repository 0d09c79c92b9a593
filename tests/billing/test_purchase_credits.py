"""Buying credits: the amount rules, POST /api/billing/purchase-credits, and the whole path from
the API through Checkout and the webhook to the balance."""

from __future__ import annotations

import pytest
from django.test import Client

from billing.ledger import InvalidAmount
from billing.models import BillingAccount, CreditPurchase
from billing.payments import validate_purchase_amount
from tests.stripe_fakes import (
    API,
    checkout_session,
    form_body,
    post_event,
    stripe_event,
)

pytestmark = pytest.mark.django_db
URL = "/api/billing/purchase-credits"


@pytest.mark.parametrize("amount", [500, 1234, 1_000_000])
def test_whole_cents_within_the_limits_are_valid(amount):
    assert validate_purchase_amount(amount) == amount


@pytest.mark.parametrize(
    "amount, message",
    [
        (499, "minimum"),
        (1_000_001, "maximum"),
        (-500, "minimum"),
        (0, "minimum"),
        (10.5, "whole number"),
        (1000.0, "whole number"),
        ("1000", "whole number"),
        (True, "whole number"),
        (None, "whole number"),
    ],
)
def test_amounts_outside_the_rules_are_refused(amount, message):
    with pytest.raises(InvalidAmount, match=message):
        validate_purchase_amount(amount)


@pytest.fixture
def buyer(prepaid_account) -> Client:
    client = Client()
    client.force_login(prepaid_account.user)
    return client


def open_session(stripe_http, session_id="cs_test_buy", account_id=None):
    return stripe_http.post(
        f"{API}/v1/checkout/sessions",
        json=checkout_session(session_id, account_id or 0, payment_status="unpaid", status="open"),
    )


def test_a_prepaid_user_gets_a_checkout_url_for_their_own_account(
    buyer, stripe_http, prepaid_account
):
    call = open_session(stripe_http, account_id=prepaid_account.pk)
    response = buyer.post(URL, {"amount": 2500}, content_type="application/json")

    assert response.status_code == 201
    purchase = CreditPurchase.objects.get()
    assert response.json() == {"url": purchase.checkout_url, "purchase_id": purchase.pk}
    assert purchase.checkout_url == "https://checkout.stripe.test/pay/cs_test_buy"
    assert (purchase.status, purchase.stripe_session_id) == ("open", "cs_test_buy")
    sent = form_body(call.calls[0])
    assert sent["mode"] == "payment"
    assert sent["client_reference_id"] == str(prepaid_account.pk)
    assert sent["line_items[0][price_data][unit_amount]"] == "2500"
    assert sent["success_url"].endswith(f"/billing/credits/success/?purchase={purchase.pk}")
    assert call.calls[0].request.headers["Idempotency-Key"] == f"checkout:{purchase.pk}"


@pytest.mark.parametrize("amount", [10.5, -500, 499, 1_000_001, "2500", True, None])
def test_bad_amounts_answer_400_naming_the_field_and_write_nothing(buyer, stripe_http, amount):
    response = buyer.post(URL, {"amount": amount}, content_type="application/json")
    assert response.status_code == 400
    assert "amount" in response.json()
    assert CreditPurchase.objects.count() == 0
    assert len(stripe_http.calls) == 0


def test_a_missing_amount_answers_400(buyer, stripe_http):
    response = buyer.post(URL, {}, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"amount": ["This field is required."]}


def test_a_postpaid_user_cannot_buy_credits(client, owner, stripe_http):
    client.force_login(owner)
    response = client.post(URL, {"amount": 2500}, content_type="application/json")
    assert response.status_code == 403
    assert CreditPurchase.objects.count() == 0


def test_nobody_can_buy_credits_for_another_account(buyer, outsider, stripe_http):
    other = BillingAccount.objects.get(user=outsider)
    response = buyer.post(
        URL, {"amount": 2500, "account_id": other.pk}, content_type="application/json"
    )
    assert response.status_code == 403
    assert CreditPurchase.objects.count() == 0


def test_anonymous_callers_are_refused(client, stripe_http):
    response = client.post(URL, {"amount": 2500}, content_type="application/json")
    assert response.status_code == 403


def test_the_browser_session_needs_the_csrf_token(prepaid_account, stripe_http):
    client = Client(enforce_csrf_checks=True)
    client.force_login(prepaid_account.user)
    response = client.post(URL, {"amount": 2500}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_without_stripe_configured_it_answers_503_and_writes_nothing(buyer, stripe_env):
    stripe_env.STRIPE_SECRET_KEY = ""
    response = buyer.post(URL, {"amount": 2500}, content_type="application/json")
    assert response.status_code == 503
    assert "not configured" in response.json()["detail"]
    assert CreditPurchase.objects.count() == 0


@pytest.mark.parametrize("stripe_status, answer", [(500, 503), (429, 503), (400, 502)])
def test_when_stripe_fails_the_attempt_is_kept_as_failed_and_a_clear_error_returned(
    buyer, stripe_http, stripe_status, answer
):
    stripe_http.post(
        f"{API}/v1/checkout/sessions",
        status=stripe_status,
        json={"error": {"message": "nope", "type": "api_error"}},
    )
    response = buyer.post(URL, {"amount": 2500}, content_type="application/json")
    assert response.status_code == answer
    purchase = CreditPurchase.objects.get()
    assert purchase.status == CreditPurchase.Status.FAILED
    assert purchase.failure_reason
    assert purchase.transaction is None


def test_a_prepaid_user_buys_credits_end_to_end_and_sees_them_once(
    buyer, stripe_http, prepaid_account
):
    open_session(stripe_http, session_id="cs_test_e2e", account_id=prepaid_account.pk)
    response = buyer.post(URL, {"amount": 5000}, content_type="application/json")
    purchase = CreditPurchase.objects.get(pk=response.json()["purchase_id"])
    assert purchase.status == "open"

    paid = checkout_session("cs_test_e2e", prepaid_account.pk, amount_total=5000)
    paid["metadata"]["hopsbill_purchase_id"] = str(purchase.pk)
    stripe_http.get(f"{API}/v1/checkout/sessions/cs_test_e2e", json=paid)
    event = stripe_event("checkout.session.completed", paid, event_id="evt_e2e")
    for _ in range(2):
        assert post_event(Client(), event).status_code == 200

    purchase.refresh_from_db()
    assert (purchase.status, purchase.amount_paid_cents) == ("paid", 5000)
    assert BillingAccount.objects.get(pk=prepaid_account.pk).balance_cents == 5000
    assert prepaid_account.transactions.count() == 1
