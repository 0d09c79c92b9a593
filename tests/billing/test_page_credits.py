"""The credit purchase pages: form validation, redirect to Checkout, Stripe missing or down,
the success page's pending/paid states and ownership, the cancel page."""

from __future__ import annotations

import pytest
import responses
from django.test import override_settings

from billing.ledger import credits_record_purchase
from billing.models import CreditPurchase

STRIPE = "https://stripe.test"
SESSIONS = f"{STRIPE}/v1/checkout/sessions"
stripe_on = override_settings(STRIPE_SECRET_KEY="sk_test_x", STRIPE_API_BASE=STRIPE)
LIMITS = "Enter an amount between $5.00 and $10,000.00."


def session_json(n: int = 1) -> dict:
    return {
        "id": f"cs_test_{n}",
        "object": "checkout.session",
        "url": f"https://checkout.stripe.test/c/pay/cs_test_{n}",
        "mode": "payment",
    }


def test_postpaid_user_cannot_open_the_credits_page(client, owner):
    client.force_login(owner)
    assert client.get("/billing/credits/").status_code == 403
    assert client.post("/billing/credits/", {"amount": "2500"}).status_code == 403


def test_anonymous_is_sent_to_login(client, db):
    assert client.get("/billing/credits/").status_code == 302


def test_prepaid_user_sees_presets_and_custom_amount(client, owner, prepaid_account):
    client.force_login(owner)
    body = client.get("/billing/credits/").content.decode()
    for label in ("$25.00", "$50.00", "$100.00", "$250.00", "Another amount"):
        assert label in body
    assert 'name="custom_amount"' in body
    assert "csrfmiddlewaretoken" in body


def test_page_says_when_stripe_is_not_configured(client, owner, prepaid_account):
    client.force_login(owner)
    body = client.get("/billing/credits/").content.decode()
    assert 'data-testid="stripe-not-configured"' in body
    assert "<fieldset disabled>" in body
    response = client.post("/billing/credits/", {"amount": "2500"})
    body = response.content.decode()
    assert response.status_code == 503
    assert body.count("not set up") == 1  # one clear sentence, not the same error twice
    assert 'role="alert"' not in body
    assert CreditPurchase.objects.count() == 0


@stripe_on
@responses.activate
def test_preset_amount_redirects_to_checkout(client, owner, prepaid_account):
    call = responses.post(SESSIONS, json=session_json())
    client.force_login(owner)
    response = client.post("/billing/credits/", {"amount": "5000"})
    assert response.status_code == 302
    assert response["Location"] == "https://checkout.stripe.test/c/pay/cs_test_1"
    purchase = CreditPurchase.objects.get()
    assert purchase.amount_cents == 50_00 and purchase.status == CreditPurchase.Status.OPEN
    assert "line_items[0][price_data][unit_amount]=5000" in call.calls[0].request.body


@stripe_on
@responses.activate
def test_typing_an_amount_without_choosing_another_amount_buys_it(client, owner, prepaid_account):
    responses.post(SESSIONS, json=session_json())
    client.force_login(owner)
    response = client.post("/billing/credits/", {"custom_amount": "40"})
    assert response.status_code == 302
    assert CreditPurchase.objects.get().amount_cents == 40_00


@stripe_on
def test_form_shows_balance_and_what_each_amount_adds(fund, client, owner, prepaid_account):
    fund(12_00)
    client.force_login(owner)
    body = client.get("/billing/credits/").content.decode()
    assert "Current balance: <strong>$12.00</strong>" in body
    assert "(balance becomes $37.00)" in body and "(balance becomes $262.00)" in body
    assert LIMITS in body  # the hint is the message
    assert "<fieldset disabled>" not in body


@stripe_on
@responses.activate
def test_custom_amount_in_dollars_becomes_cents(client, owner, prepaid_account):
    responses.post(SESSIONS, json=session_json())
    client.force_login(owner)
    response = client.post("/billing/credits/", {"amount": "custom", "custom_amount": "12.34"})
    assert response.status_code == 302
    assert CreditPurchase.objects.get().amount_cents == 12_34


@stripe_on
@responses.activate
@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"amount": "custom", "custom_amount": "1.00"}, "custom_amount", LIMITS),
        ({"amount": "custom", "custom_amount": "-5"}, "custom_amount", LIMITS),
        ({"custom_amount": "-5"}, "custom_amount", LIMITS),
        ({"amount": "custom", "custom_amount": "99999999"}, "custom_amount", LIMITS),
        ({"amount": "custom", "custom_amount": ""}, "custom_amount", LIMITS),
        ({"amount": "custom", "custom_amount": "abc"}, "custom_amount", "number"),
        ({"amount": "custom", "custom_amount": "10.001"}, "custom_amount", "decimal"),
        ({"amount": "123"}, "amount", "valid choice"),
        ({}, "amount", "Choose an amount."),
    ],
)
def test_bad_amounts_are_refused_and_nothing_is_written(
    client, owner, prepaid_account, data, field, message
):
    client.force_login(owner)
    response = client.post("/billing/credits/", data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field])
    assert response.content.decode().count('role="alert"') == 1  # one message, said once
    assert CreditPurchase.objects.count() == 0
    assert len(responses.calls) == 0


@stripe_on
@responses.activate
def test_stripe_down_shows_a_clear_message(client, owner, prepaid_account):
    responses.post(SESSIONS, status=503, json={"error": {"message": "down"}})
    client.force_login(owner)
    response = client.post("/billing/credits/", {"amount": "2500"})
    assert response.status_code == 200
    assert "not answering" in response.content.decode()


def test_success_page_is_pending_until_paid_then_shows_balance(client, owner, prepaid_account):
    purchase = CreditPurchase.objects.create(
        account=prepaid_account,
        amount_cents=25_00,
        stripe_session_id="cs_1",
        status=CreditPurchase.Status.OPEN,
    )
    client.force_login(owner)
    pending = client.get(f"/billing/credits/success/?purchase={purchase.pk}").content.decode()
    assert 'data-testid="purchase-pending"' in pending and "pending" in pending
    assert 'http-equiv="refresh"' in pending
    tx = credits_record_purchase(
        account=prepaid_account, amount_cents=25_00, stripe_session_id="cs_1"
    )
    CreditPurchase.objects.filter(pk=purchase.pk).update(status="paid", transaction=tx)
    paid = client.get(f"/billing/credits/success/?purchase={purchase.pk}").content.decode()
    assert 'data-testid="purchase-paid"' in paid and "$25.00" in paid
    assert 'http-equiv="refresh"' not in paid


def test_success_page_of_another_users_purchase_is_404(client, outsider, prepaid_account):
    purchase = CreditPurchase.objects.create(account=prepaid_account, amount_cents=25_00)
    client.force_login(outsider)
    assert client.get(f"/billing/credits/success/?purchase={purchase.pk}").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?purchase=",
        "?purchase=abc",
        "?purchase=999999",
        "?purchase=²",
        "?purchase=①",
        "?purchase=1²",
        "?purchase=" + "9" * 30,
    ],
)
def test_success_page_without_a_valid_purchase_is_404(client, owner, prepaid_account, query):
    client.force_login(owner)
    assert client.get(f"/billing/credits/success/{query}").status_code == 404


def test_cancel_page(client, owner, prepaid_account):
    purchase = CreditPurchase.objects.create(account=prepaid_account, amount_cents=25_00)
    client.force_login(owner)
    response = client.get(f"/billing/credits/cancel/?purchase={purchase.pk}")
    assert response.status_code == 200 and b"No payment was taken" in response.content
