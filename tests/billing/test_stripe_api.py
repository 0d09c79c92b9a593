"""billing/payments/gateway.py against the fake wire: the pinned version, typed errors, and
customer/subscription create-or-find keyed by our account id."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from billing.models import BillingAccount
from billing.payments import gateway
from tests.stripe_fakes import API, stripe_list, stripe_object

pytestmark = pytest.mark.django_db


def listing(items):
    return stripe_list(items)


def search(items):
    return stripe_list(items, obj="search_result")


def test_every_call_carries_the_pinned_api_version(stripe_http):
    stripe_http.get(f"{API}/v1/checkout/sessions/cs_1", json=stripe_object("checkout.session"))
    gateway.checkout_session_retrieve("cs_1")
    assert stripe_http.calls[0].request.headers["Stripe-Version"] == gateway.API_VERSION


@pytest.mark.parametrize(
    "status, error",
    [
        (429, gateway.StripeUnavailable),
        (500, gateway.StripeUnavailable),
        (503, gateway.StripeUnavailable),
        (400, gateway.StripeRequestRefused),
        (404, gateway.StripeRequestRefused),
    ],
)
def test_stripe_failures_become_our_typed_errors(stripe_http, status, error):
    stripe_http.get(
        f"{API}/v1/checkout/sessions/cs_1", status=status, json={"error": {"message": "x"}}
    )
    with pytest.raises(error):
        gateway.checkout_session_retrieve("cs_1")


def test_a_network_failure_is_unavailable(stripe_http):
    stripe_http.get(f"{API}/v1/checkout/sessions/cs_1", body=ConnectionError("refused"))
    with pytest.raises(gateway.StripeUnavailable):
        gateway.checkout_session_retrieve("cs_1")


def test_without_a_key_stripe_is_not_configured(stripe_env):
    stripe_env.STRIPE_SECRET_KEY = ""
    assert not gateway.is_configured()
    with pytest.raises(gateway.StripeNotConfigured):
        gateway.checkout_session_retrieve("cs_1")


def test_customer_ensure_creates_once_keyed_by_the_account(stripe_http, owner):
    account = owner.billing_account
    stripe_http.get(f"{API}/v1/customers/search", json=search([]))
    create = stripe_http.post(f"{API}/v1/customers", json=stripe_object("customer", id="cus_new"))

    assert gateway.customer_ensure(account=account) == "cus_new"
    body = dict(parse_qsl(create.calls[0].request.body))
    assert body["metadata[hopsbill_account_id]"] == str(account.pk)
    assert create.calls[0].request.headers["Idempotency-Key"] == f"customer:{account.pk}"
    assert BillingAccount.objects.get(pk=account.pk).stripe_customer_id == "cus_new"

    # Stored: no further call.
    assert gateway.customer_ensure(account=account) == "cus_new"
    assert len(stripe_http.calls) == 2


def test_customer_ensure_finds_a_customer_made_by_an_earlier_attempt(stripe_http, owner):
    stripe_http.get(
        f"{API}/v1/customers/search", json=search([stripe_object("customer", id="cus_old")])
    )
    assert gateway.customer_ensure(account=owner.billing_account) == "cus_old"
    assert [c.request.method for c in stripe_http.calls] == ["GET"]


def test_subscription_ensure_subscribes_to_the_metered_price(stripe_http, owner):
    account = owner.billing_account
    account.stripe_customer_id = "cus_1"
    account.save()
    stripe_http.get(f"{API}/v1/subscriptions", json=listing([]))
    stripe_http.get(f"{API}/v1/prices", json=listing([stripe_object("price", id="price_usage")]))
    create = stripe_http.post(
        f"{API}/v1/subscriptions", json=stripe_object("subscription", id="sub_new")
    )

    assert gateway.subscription_ensure(account=account) == "sub_new"
    prices_query = dict(parse_qsl(stripe_http.calls[1].request.url.split("?")[1]))
    assert prices_query["lookup_keys[0]"] == "hopsbill_usage_cents"
    body = dict(parse_qsl(create.calls[0].request.body))
    assert (body["customer"], body["items[0][price]"]) == ("cus_1", "price_usage")
    assert create.calls[0].request.headers["Idempotency-Key"] == f"subscription:{account.pk}"
    assert BillingAccount.objects.get(pk=account.pk).stripe_subscription_id == "sub_new"


def test_subscription_ensure_without_the_catalogue_says_to_run_setup(stripe_http, owner):
    account = owner.billing_account
    account.stripe_customer_id = "cus_1"
    account.save()
    stripe_http.get(f"{API}/v1/subscriptions", json=listing([]))
    stripe_http.get(f"{API}/v1/prices", json=listing([]))
    with pytest.raises(gateway.StripeRequestRefused, match="setup_stripe"):
        gateway.subscription_ensure(account=account)


def test_a_customer_name_over_stripes_limit_is_cut_to_256_characters(stripe_http, owner):
    owner.first_name, owner.last_name = "F" * 150, "L" * 150  # 301 with the space
    owner.save()
    stripe_http.get(f"{API}/v1/customers/search", json=search([]))
    create = stripe_http.post(f"{API}/v1/customers", json=stripe_object("customer", id="cus_n"))

    assert gateway.customer_ensure(account=owner.billing_account) == "cus_n"
    body = dict(parse_qsl(create.calls[0].request.body))
    assert body["name"] == ("F" * 150 + " " + "L" * 150)[:256]
    assert body["email"] == owner.email


def test_metadata_over_stripes_limits_is_cut_on_the_wire(stripe_http):
    search_call = stripe_http.get(f"{API}/v1/products/search", json=search([]))
    create = stripe_http.post(f"{API}/v1/products", json=stripe_object("product", id="prod_1"))

    gateway.product_ensure(key="k" * 600, name="N" * 300)
    body = dict(parse_qsl(create.calls[0].request.body))
    assert body["metadata[hopsbill_key]"] == "k" * 500
    assert body["name"] == "N" * 256
    assert search_call.calls  # the lookup went out too


def test_fitting_leaves_out_an_email_longer_than_512_and_keeps_the_rest():
    fitted = gateway.fit_params(
        {"email": "e" * 513, "name": "ok", "items": [{"metadata": {"k" * 41: "v"}}]}
    )
    assert fitted == {"name": "ok", "items": [{"metadata": {"k" * 40: "v"}}]}
