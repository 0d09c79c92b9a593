"""The default payment method is kept from Stripe's webhooks: customer.updated,
payment_method.attached / detached and setup_intent.succeeded, older events never winning."""

from __future__ import annotations

import time

import pytest

from billing.models import BillingAccount
from tests.stripe_fakes import API, post_event, stripe_event, stripe_object
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db

CUSTOMER = "cus_cards_1"


@pytest.fixture
def account(owner):
    BillingAccount.objects.filter(user=owner).update(stripe_customer_id=CUSTOMER)
    return BillingAccount.objects.get(user=owner)


def card(pm_id: str, brand: str, last4: str, customer: str | None = CUSTOMER) -> dict:
    method = stripe_object("payment_method", id=pm_id, customer=customer)
    method["card"] = {**method["card"], "brand": brand, "display_brand": brand, "last4": last4}
    return method


def shown(account) -> tuple[str, str, str]:
    row = BillingAccount.objects.get(pk=account.pk)
    return row.payment_method_id, row.payment_method_brand, row.payment_method_last4


def customer_updated(event_id: str, default: str | None, created: int) -> dict:
    customer = stripe_object("customer", id=CUSTOMER)
    customer["invoice_settings"] = {
        **customer["invoice_settings"],
        "default_payment_method": default,
    }
    return stripe_event("customer.updated", customer, event_id=event_id, created=created)


def test_the_default_card_from_customer_updated_is_kept(client, stripe_env, stripe_http, account):
    stripe_http.get(f"{API}/v1/payment_methods/pm_visa", json=card("pm_visa", "visa", "4242"))
    now = int(time.time())

    assert post_event(client, customer_updated("evt_c1", "pm_visa", now)).status_code == 200

    assert shown(account) == ("pm_visa", "visa", "4242")


def test_an_older_customer_event_does_not_undo_a_newer_card(
    client, stripe_env, stripe_http, account
):
    stripe_http.get(f"{API}/v1/payment_methods/pm_new", json=card("pm_new", "mastercard", "4444"))
    now = int(time.time())
    post_event(client, customer_updated("evt_new", "pm_new", now))

    assert post_event(client, customer_updated("evt_old", None, now - 60)).status_code == 200

    assert shown(account) == ("pm_new", "mastercard", "4444")


def test_attach_shows_a_card_until_stripe_names_a_default_and_detach_clears_it(
    client, stripe_env, account
):
    now = int(time.time())
    attached = stripe_event(
        "payment_method.attached", card("pm_a", "visa", "1111"), event_id="evt_a", created=now
    )
    assert post_event(client, attached).status_code == 200
    assert shown(account) == ("pm_a", "visa", "1111")

    second = stripe_event(
        "payment_method.attached", card("pm_b", "amex", "0005"), event_id="evt_b", created=now + 1
    )
    assert post_event(client, second).status_code == 200
    assert shown(account) == ("pm_a", "visa", "1111")

    detached = stripe_event(
        "payment_method.detached",
        card("pm_a", "visa", "1111", customer=None),
        event_id="evt_d",
        created=now + 2,
    )
    detached["data"]["previous_attributes"] = {"customer": CUSTOMER}
    assert post_event(client, detached).status_code == 200
    assert shown(account) == ("", "", "")


def test_a_succeeded_setup_intent_records_the_saved_card(client, stripe_env, stripe_http, account):
    stripe_http.get(f"{API}/v1/payment_methods/pm_s", json=card("pm_s", "visa", "4242"))
    intent = stripe_object(
        "setup_intent", id="seti_1", customer=CUSTOMER, payment_method="pm_s", status="succeeded"
    )
    event = stripe_event("setup_intent.succeeded", intent, event_id="evt_si")

    assert post_event(client, event).status_code == 200
    assert post_event(client, event).status_code == 200

    assert shown(account) == ("pm_s", "visa", "4242")
    assert WebhookEvent.objects.get().attempts == 1


def test_card_events_for_unknown_customers_are_refused_without_writes(client, stripe_env, account):
    stranger = card("pm_x", "visa", "9999", customer="cus_stranger")
    event = stripe_event("payment_method.attached", stranger, event_id="evt_x")

    assert post_event(client, event).status_code == 400
    assert not WebhookEvent.objects.exists() and shown(account) == ("", "", "")


def test_staff_see_the_card_in_the_account_list(client, stripe_env, staff, account):
    BillingAccount.objects.filter(pk=account.pk).update(
        payment_method_brand="visa", payment_method_last4="4242", staff_flag="Dispute dp_1 opened"
    )
    client.force_login(staff)
    html = client.get("/admin/billing/billingaccount/").content.decode()
    assert "visa •••• 4242" in html and "Dispute dp_1 opened" in html
