"""Buying credits in a real Chromium against a loopback Stripe fake: presets, redirect to the
(fake) Checkout page, back to the success page, "pending" until the payment is recorded, then
the new balance."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import User
from billing.models import CreditPurchase
from billing.money import format_cents
from billing.services import credits_record_purchase
from tests.browser.fake_stripe import FakeStripe

pytestmark = pytest.mark.browser


@pytest.fixture
def fake_stripe(settings, live_server):
    with FakeStripe() as fake:
        settings.STRIPE_SECRET_KEY = "sk_test_fake"
        settings.STRIPE_API_BASE = fake.url
        settings.SITE_URL = live_server.url
        yield fake


def record_paid(purchase: CreditPurchase) -> None:
    """What Stripe's checkout.session.completed webhook does (another issue's receiver): until
    it lands, the test posts the same ledger entry through the service the receiver calls."""
    tx = credits_record_purchase(
        account=purchase.account,
        amount_cents=purchase.amount_cents,
        stripe_session_id=purchase.stripe_session_id,
    )
    CreditPurchase.objects.filter(pk=purchase.pk).update(
        status=CreditPurchase.Status.PAID, transaction=tx, amount_paid_cents=purchase.amount_cents
    )


def test_buy_credits_and_see_the_balance_rise(demo, login, page, fake_stripe, screenshot):
    account = User.objects.get(email=demo["prepaid"]).billing_account
    before = account.balance_cents
    login(demo["prepaid"])
    page.get_by_test_id("buy-credits").click()
    expect(page.get_by_role("heading", name="Buy credits")).to_be_visible()
    page.get_by_label("$50.00").check()
    screenshot("credits-form")
    page.get_by_test_id("checkout").click()

    expect(page.get_by_role("heading", name="Pay")).to_be_visible()
    assert page.locator("#amount").inner_text() == "5000"
    purchase = CreditPurchase.objects.get(account=account)
    assert purchase.status == CreditPurchase.Status.OPEN
    assert fake_stripe.idempotency_keys == [f"checkout:{purchase.pk}"]

    page.get_by_role("link", name="Pay now").click()
    expect(page.get_by_test_id("purchase-pending")).to_be_visible()
    record_paid(purchase)
    page.reload()
    expect(page.get_by_test_id("purchase-paid")).to_be_visible()
    expect(page.get_by_test_id("balance")).to_have_text(format_cents(before + 50_00))
    screenshot("credits-success")


def test_custom_amount_out_of_range_is_explained(demo, login, page, fake_stripe):
    login(demo["prepaid"])
    page.get_by_test_id("buy-credits").click()
    page.get_by_label("Another amount").check()
    page.get_by_label("Custom amount (USD)").fill("1")
    page.get_by_test_id("checkout").click()
    expect(page.get_by_role("alert")).to_contain_text("minimum")
    assert fake_stripe.sessions == {}


def test_cancel_on_checkout_returns_to_the_cancel_page(demo, login, page, fake_stripe):
    login(demo["prepaid"])
    page.get_by_test_id("buy-credits").click()
    page.get_by_label("$25.00").check()
    page.get_by_test_id("checkout").click()
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", name="Payment cancelled")).to_be_visible()
