"""Buying credits in a real Chromium against a loopback Stripe fake: presets, redirect to the
(fake) Checkout page, back to the success page, "pending" until the payment is recorded, then
the new balance."""

from __future__ import annotations

import json

import pytest
import requests
from playwright.sync_api import expect

from accounts.models import User
from billing.ledger.money import format_cents
from billing.models import CreditPurchase
from tests.stripe_fakes import sign, stripe_event, worker_process

pytestmark = pytest.mark.browser


def stripe_sends_completed(live_server, fake, session_id: str) -> None:
    """Stripe takes the payment and delivers a signed checkout.session.completed webhook; a
    worker processes it (the real task, run here)."""
    fake.paid.add(session_id)
    event = stripe_event(
        "checkout.session.completed",
        fake.session_object(session_id),
        event_id=f"evt_browser_{session_id}",
    )
    body = json.dumps(event).encode()
    response = requests.post(
        f"{live_server.url}/api/webhooks/stripe",
        data=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": sign(body)},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    worker_process(event["id"])


def test_buy_credits_and_see_the_balance_rise(
    demo, login, page, fake_stripe, live_server, screenshot
):
    account = User.objects.get(email=demo["prepaid"]).billing_account
    before = account.balance_cents
    login(demo["prepaid"])
    page.get_by_test_id("buy-credits").click()
    expect(page.get_by_role("heading", name="Buy credits")).to_be_visible()
    page.locator("input[name=amount][value='5000']").check()
    screenshot("credits-form")
    page.get_by_test_id("checkout").click()

    expect(page.get_by_role("heading", name="Pay")).to_be_visible()
    assert page.locator("#amount").inner_text() == "5000"
    purchase = CreditPurchase.objects.get(account=account)
    assert purchase.status == CreditPurchase.Status.OPEN
    assert fake_stripe.idempotency_keys == [f"checkout:{purchase.pk}"]

    page.get_by_role("link", name="Pay now").click()
    expect(page.get_by_test_id("purchase-pending")).to_be_visible()
    stripe_sends_completed(live_server, fake_stripe, purchase.stripe_session_id)
    page.reload()
    expect(page.get_by_test_id("purchase-paid")).to_be_visible()
    expect(page.get_by_test_id("balance")).to_have_text(format_cents(before + 50_00))
    screenshot("credits-success")


def test_typing_an_amount_selects_another_amount_and_shows_the_new_balance(
    demo, login, page, fake_stripe
):
    balance = User.objects.get(email=demo["prepaid"]).billing_account.balance_cents
    login(demo["prepaid"])
    page.get_by_test_id("buy-credits").click()
    expect(page.get_by_test_id("current-balance")).to_contain_text(format_cents(balance))
    page.get_by_label("Custom amount (USD)").fill("40")
    expect(page.get_by_label("Another amount")).to_be_checked()
    expect(page.get_by_test_id("balance-after")).to_have_text(
        f"Your balance becomes {format_cents(balance + 40_00)}."
    )


def test_custom_amount_out_of_range_is_explained(demo, login, page, fake_stripe):
    login(demo["prepaid"])
    page.get_by_test_id("buy-credits").click()
    page.get_by_label("Custom amount (USD)").fill("-5")
    page.get_by_test_id("checkout").click()
    expect(page.get_by_role("alert")).to_have_text("Enter an amount between $5.00 and $10,000.00.")
    assert fake_stripe.sessions == {}


def test_cancel_on_checkout_returns_to_the_cancel_page(demo, login, page, fake_stripe):
    login(demo["prepaid"])
    page.get_by_test_id("buy-credits").click()
    page.locator("input[name=amount][value='2500']").check()
    page.get_by_test_id("checkout").click()
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", name="Payment cancelled")).to_be_visible()
