"""Postpaid invoices on the billing page come from the dj-stripe mirror."""

from __future__ import annotations

import pytest
from djstripe.models import Customer, Invoice

from billing.models import BillingAccount


def invoice_make(customer_id: str, invoice_id: str, number: str, total: int) -> Invoice:
    customer, _ = Customer.objects.get_or_create(
        id=customer_id, defaults={"stripe_data": {"id": customer_id, "object": "customer"}}
    )
    return Invoice.objects.create(
        id=invoice_id,
        customer=customer,
        stripe_data={
            "id": invoice_id,
            "object": "invoice",
            "number": number,
            "status": "paid",
            "total": total,
            "amount_due": total,
            "currency": "usd",
            "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice_id}",
            "invoice_pdf": f"https://pay.stripe.com/invoice/{invoice_id}/pdf",
        },
    )


@pytest.fixture
def owner_invoices(owner):
    BillingAccount.objects.filter(user=owner).update(stripe_customer_id="cus_owner")
    invoice_make("cus_owner", "in_owner_1", "HB-0001", 123_45)
    invoice_make("cus_other", "in_other_1", "HB-9999", 5_00)


def test_postpaid_page_lists_own_invoices_with_links(client, owner, owner_invoices):
    client.force_login(owner)
    body = client.get("/billing/").content.decode()
    assert "HB-0001" in body and "$123.45" in body
    assert "https://invoice.stripe.com/i/in_owner_1" in body
    assert "https://pay.stripe.com/invoice/in_owner_1/pdf" in body
    assert "HB-9999" not in body


def test_account_without_stripe_customer_has_no_invoices(client, outsider, owner_invoices):
    client.force_login(outsider)
    body = client.get("/billing/").content.decode()
    assert "No invoices yet" in body
    assert "HB-0001" not in body and "HB-9999" not in body


def test_prepaid_page_shows_no_invoices(client, owner, owner_invoices, prepaid_account):
    client.force_login(owner)
    assert "HB-0001" not in client.get("/billing/").content.decode()
