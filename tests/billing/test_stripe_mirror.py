"""dj-stripe mirror: invoice and subscription webhooks land in dj-stripe's tables, so pages
read invoices from our database. dj-stripe fetches what the objects refer to (customer,
account) itself; the fake Stripe answers those from the fixtures file."""

from __future__ import annotations

import json
import re
import time
from io import StringIO

import pytest
import responses
import stripe
from django.core.management import call_command
from djstripe.models import Customer, Invoice, Subscription

from tests.stripe_fakes import API, post_event, stripe_event, stripe_object

pytestmark = pytest.mark.django_db
CUSTOMER = "cus_QXg1o8vcGmoR32"
RESOURCES = {
    "customers": "customer",
    "subscriptions": "subscription",
    "invoices": "invoice",
    "account": "account",
    "accounts": "account",  # connected accounts: listed empty
    "prices": "price",
    "products": "product",
    "plans": "plan",
    "subscription_items": "subscription_item",
}


def fake_stripe(request):
    """GET /v1/<resource>[/<id>]: the fixture object (with that id), or an empty list."""
    path = request.url.removeprefix(f"{API}/v1/").split("?")[0].split("/")
    kind = RESOURCES.get(path[0])
    if kind is None:
        return 404, {}, json.dumps({"error": {"message": f"no fake for {request.url}"}})
    if len(path) == 1 and path[0] != "account":
        return 200, {}, json.dumps({"object": "list", "data": [], "has_more": False, "url": "/"})
    obj = stripe_object(kind)
    if len(path) > 1:
        obj["id"] = path[1]
    if kind == "customer":
        obj["discount"] = None  # the fixture's discount has no coupon; dj-stripe refuses that
    return 200, {}, json.dumps(obj)


@pytest.fixture
def mirrored(stripe_env, owner):
    stripe_env.STRIPE_MIRROR_ENABLED = True
    stripe_env.STRIPE_SECRET_KEY = "sk_test_" + "x" * 24  # dj-stripe checks the key's shape
    account = owner.billing_account
    account.stripe_customer_id = CUSTOMER
    account.save()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, re.compile(re.escape(API) + ".*"), callback=fake_stripe)
        yield rsps


def test_an_invoice_event_mirrors_the_invoice_and_its_customer(client, mirrored):
    invoice = stripe_object("invoice", customer=CUSTOMER)
    event = stripe_event("invoice.paid", invoice, event_id="evt_inv", created=int(time.time()))
    assert post_event(client, event).status_code == 200
    assert Invoice.objects.filter(id=invoice["id"], customer_id=CUSTOMER).exists()
    assert Customer.objects.filter(id=CUSTOMER).exists()


def test_a_subscription_event_mirrors_the_subscription(client, mirrored):
    subscription = stripe_object("subscription", status="active")
    event = stripe_event(
        "customer.subscription.updated", subscription, event_id="evt_sub", created=int(time.time())
    )
    assert post_event(client, event).status_code == 200
    assert Subscription.objects.filter(id=subscription["id"]).exists()


def test_djstripe_sync_models_resyncs_customers_from_stripe(mirrored, monkeypatch):
    monkeypatch.setattr(stripe, "api_base", API)  # what STRIPE_API_HOST sets at start-up
    customer = stripe_object("customer", id=CUSTOMER, discount=None)

    def listing_customers(request):
        if request.url.startswith(f"{API}/v1/customers?"):
            page = {"object": "list", "data": [customer], "has_more": False, "url": "/"}
            return 200, {}, json.dumps(page)
        return fake_stripe(request)

    mirrored.remove(responses.GET, re.compile(re.escape(API) + ".*"))
    mirrored.add_callback(
        responses.GET, re.compile(re.escape(API) + ".*"), callback=listing_customers
    )
    call_command("djstripe_sync_models", "Customer", stdout=StringIO())
    assert Customer.objects.filter(id=CUSTOMER).exists()
