"""The billing page in a real Chromium: the demo prepaid user sees the chart and balance; the
demo postpaid user sees invoices and no buy button."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from billing.ledger.money import format_cents
from billing.models import BillingAccount

pytestmark = pytest.mark.browser


def test_prepaid_user_sees_chart_and_balance(demo, login, page, live_server, screenshot):
    login(demo["prepaid"])
    balance = User.objects.get(email=demo["prepaid"]).billing_account.balance_cents
    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    expect(page.get_by_test_id("mode")).to_have_text("Prepaid (credits)")
    expect(page.get_by_test_id("balance")).to_have_text(format_cents(balance))
    expect(page.get_by_role("heading", name="Daily cost, last 30 days")).to_be_visible()
    # the demo has usage for the 30 days before today; the window ends today
    assert page.locator("[data-testid=daily-chart] a.bar").count() == 29
    expect(page.get_by_test_id("buy-credits")).to_be_visible()
    expect(page.get_by_test_id("invoices")).to_have_count(0)
    screenshot("billing-prepaid")

    page.get_by_role("link", name="90 days").click()
    expect(page.get_by_role("heading", name="Daily cost, last 90 days")).to_be_visible()
    page.locator("details.day summary").first.click()
    expect(page.get_by_text("Not measured").first).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("billing-prepaid-mobile")


def test_postpaid_user_sees_invoices_and_no_buy_button(demo, login, page, screenshot):
    from djstripe.models import Customer, Invoice

    BillingAccount.objects.filter(user__email=demo["postpaid"]).update(
        stripe_customer_id="cus_demo_postpaid"
    )
    customer = Customer.objects.create(id="cus_demo_postpaid", stripe_data={"id": "cus_demo"})
    Invoice.objects.create(
        id="in_demo_1",
        customer=customer,
        stripe_data={
            "number": "HB-DEMO-0001",
            "status": "paid",
            "total": 98_76,
            "currency": "usd",
            "hosted_invoice_url": "https://invoice.stripe.com/i/in_demo_1",
            "invoice_pdf": "https://pay.stripe.com/invoice/in_demo_1/pdf",
        },
    )
    login(demo["postpaid"])
    expect(page.get_by_test_id("mode")).to_have_text("Postpaid (Stripe invoice)")
    invoices = page.get_by_test_id("invoices")
    expect(invoices).to_contain_text("HB-DEMO-0001")
    expect(invoices).to_contain_text("$98.76")
    expect(invoices.get_by_role("link", name=re.compile("^PDF"))).to_have_attribute(
        "href", "https://pay.stripe.com/invoice/in_demo_1/pdf"
    )
    expect(page.get_by_text("Buy credits")).to_have_count(0)
    expect(page.get_by_test_id("balance")).to_have_count(0)
    screenshot("billing-postpaid")
