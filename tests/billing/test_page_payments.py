"""The Payments panel of /billing/: the card on file (kept from webhooks), the customer portal
button, and what the page says about an unpaid invoice, a suspension and refunds."""

from __future__ import annotations

import pytest
import requests
from django.core.cache import cache

from accounts.models import SuspensionCause
from accounts.suspension import _stopped_by, suspension_lift, suspension_start
from billing.models import BillingAccount
from tests.stripe_fakes import API, form_body, stripe_object

PORTAL_URL = "https://billing.stripe.test/p/session/test_YWNjdF8x"


@pytest.fixture
def postpaid(owner):
    BillingAccount.objects.filter(user=owner).update(stripe_customer_id="cus_owner")
    return BillingAccount.objects.get(user=owner)


def test_a_postpaid_user_without_a_card_is_asked_to_add_one(client, owner, postpaid):
    client.force_login(owner)
    html = client.get("/billing/").content.decode()

    assert 'data-testid="add-payment-method"' in html
    assert "Add a payment method" in html
    assert "None on file" in html and 'data-testid="manage-payment-method"' in html


def test_the_card_on_file_is_shown_and_the_banner_goes(client, owner, postpaid):
    BillingAccount.objects.filter(pk=postpaid.pk).update(
        payment_method_id="pm_1", payment_method_brand="visa", payment_method_last4="4242"
    )
    client.force_login(owner)
    html = client.get("/billing/").content.decode()

    assert "Visa ending in 4242" in html
    assert "add-payment-method" not in html


def test_prepaid_users_see_no_portal_button(client, owner, prepaid_account):
    client.force_login(owner)
    html = client.get("/billing/").content.decode()
    assert "manage-payment-method" not in html and "add-payment-method" not in html


def test_manage_payment_method_opens_the_portal_for_the_own_customer(
    client, owner, postpaid, stripe_http
):
    session = stripe_object("billing_portal.session", url=PORTAL_URL, customer="cus_owner")
    created = stripe_http.post(f"{API}/v1/billing_portal/sessions", json=session)
    client.force_login(owner)

    response = client.post("/billing/payment-method/")

    assert response.status_code == 302 and response["Location"] == PORTAL_URL
    body = form_body(created.calls[0])
    assert body["customer"] == "cus_owner"
    assert body["return_url"].endswith("/billing/")


def test_stripe_down_shows_a_clear_message_and_writes_nothing(client, owner, postpaid, stripe_http):
    stripe_http.post(
        f"{API}/v1/billing_portal/sessions", body=requests.ConnectionError("Stripe down")
    )
    before = BillingAccount.objects.values().get(pk=postpaid.pk)
    client.force_login(owner)

    response = client.post("/billing/payment-method/", follow=True)

    assert response.redirect_chain == [("/billing/", 302)]
    assert "Stripe is not reachable right now" in response.content.decode()
    assert BillingAccount.objects.values().get(pk=postpaid.pk) == before


def test_opening_the_portal_needs_a_login_and_a_post(client, owner, postpaid):
    assert client.post("/billing/payment-method/").status_code == 302
    client.force_login(owner)
    assert client.get("/billing/payment-method/").status_code == 405


def test_the_page_lists_what_a_suspension_stopped_and_when(client, owner, postpaid):
    run = suspension_start(user=owner, cause=SuspensionCause.DUNNING)
    step = run.steps.get(name="stop_deployments")
    step.detail = {
        "stopped": [
            {"project": "alpha", "name": "fraud-predictor", "serving": "fraud", "replicas": 1}
        ]
    }
    step.save()
    client.force_login(owner)

    html = client.get("/billing/").content.decode()

    assert "Your account is suspended" in html
    assert "Suspended since" in html and "fraud in project alpha" in html
    assert "We are still stopping your work" in html
    assert _stopped_by(run)["deployments"][0]["serving"] == "fraud"

    suspension_lift(user=owner, cause=SuspensionCause.PAYMENT)
    cache.clear()
    html = client.get("/billing/").content.decode()
    assert "Your account was resumed" in html and "fraud in project alpha" in html
    assert "Your account is suspended" not in html
