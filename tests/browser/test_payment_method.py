"""A postpaid user without a card, in a real Chromium: the 'add a payment method' banner, the
Manage payment method button, Stripe's (faked) customer portal, and back to /billing/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from billing.models import BillingAccount

pytestmark = pytest.mark.browser


def test_a_postpaid_user_without_a_card_goes_to_the_portal_and_back(
    demo, login, page, fake_stripe, live_server, screenshot
):
    BillingAccount.objects.filter(user__email=demo["postpaid"]).update(
        stripe_customer_id="cus_browser", payment_method_last4="", payment_method_brand=""
    )
    login(demo["postpaid"])

    expect(page.get_by_test_id("add-payment-method")).to_contain_text("Add a payment method")
    expect(page.get_by_test_id("payment-method")).to_have_text("None on file")
    screenshot("payment-method-missing")
    page.get_by_test_id("manage-payment-method").click()

    page.wait_for_url(f"{fake_stripe.url}/portal/*")
    expect(page.get_by_role("heading", name="Customer portal")).to_be_visible()
    expect(page.locator("#customer")).to_have_text("cus_browser")
    (session,) = fake_stripe.portal_sessions.values()
    assert session["return_url"] == f"{live_server.url}/billing/"

    page.get_by_role("link", name="Return to Hopsbill").click()
    page.wait_for_url(f"{live_server.url}/billing/")
    expect(page.get_by_test_id("manage-payment-method")).to_be_visible()
