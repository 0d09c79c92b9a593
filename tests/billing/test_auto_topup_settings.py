"""Auto top-up settings: PUT /api/billing/auto-topup, the page's form, and saving a card
through Checkout (on a purchase, or in setup mode without buying)."""

from __future__ import annotations

import pytest

from billing.ledger import billing_account_ensure
from billing.models import AutoTopUp, BillingAccount
from tests.html import text_of
from tests.stripe_fakes import API, checkout_session, form_body

pytestmark = pytest.mark.django_db
URL = "/api/billing/auto-topup"
VALID = {"enabled": True, "threshold": "10.00", "amount": "25.00"}


def put(client, body):
    return client.put(URL, data=body, content_type="application/json")


def test_the_owner_turns_auto_top_up_on_and_sees_it_in_the_billing_summary(client, prepaid_account):
    client.force_login(prepaid_account.user)
    answer = put(client, VALID)
    assert answer.status_code == 200, answer.json()
    row = AutoTopUp.objects.get(account=prepaid_account)
    assert (row.enabled, row.threshold_cents, row.amount_cents) == (True, 1000, 2500)
    summary = client.get("/api/billing").json()["auto_topup"]
    assert summary["enabled"] is True
    assert (summary["threshold"], summary["amount"]) == ("10.00", "25.00")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("threshold", "-5", "greater than or equal"),
        ("threshold", "0", "greater than or equal"),
        ("threshold", "abc", "valid number"),
        ("threshold", "100000000", "less than or equal"),
        ("threshold", None, "null"),
        ("amount", "-25", "greater than or equal"),
        ("amount", "0", "greater than or equal"),
        ("amount", "twenty", "valid number"),
        ("amount", "NaN", "valid number"),
        ("amount", "4.99", "minimum purchase"),
        ("amount", "10000.01", "maximum purchase"),
        ("amount", "999999999", "less than or equal"),
        ("amount", "25.001", "decimal places"),
        ("enabled", "maybe", "valid boolean"),
    ],
)
def test_a_bad_value_is_a_400_naming_the_field_and_changes_nothing(
    client, prepaid_account, field, value, message
):
    client.force_login(prepaid_account.user)
    assert put(client, VALID).status_code == 200
    answer = put(client, VALID | {"enabled": False, field: value})
    assert answer.status_code == 400
    assert message in " ".join(answer.json()[field]).lower()
    row = AutoTopUp.objects.get(account=prepaid_account)
    assert (row.enabled, row.threshold_cents, row.amount_cents) == (True, 1000, 2500)


def test_a_missing_field_is_a_400(client, prepaid_account):
    client.force_login(prepaid_account.user)
    answer = put(client, {"enabled": True, "amount": "25"})
    assert answer.status_code == 400
    assert "threshold" in answer.json()
    assert not AutoTopUp.objects.exists()


def test_naming_another_account_is_refused(client, prepaid_account, outsider):
    other = billing_account_ensure(user=outsider)
    client.force_login(prepaid_account.user)
    answer = put(client, VALID | {"account_id": other.pk})
    assert answer.status_code == 403
    assert not AutoTopUp.objects.exists()


def test_an_outsider_sets_only_their_own_and_cannot_read_the_owners(
    client, prepaid_account, outsider
):
    client.force_login(prepaid_account.user)
    assert put(client, VALID).status_code == 200
    client.force_login(outsider)
    assert client.get(URL).status_code == 404  # postpaid: no auto top-up, and not the owner's
    assert put(client, VALID).status_code == 403
    assert AutoTopUp.objects.get().account == prepaid_account


def test_anonymous_callers_are_refused(client, prepaid_account):
    assert put(client, VALID).status_code == 403
    assert not AutoTopUp.objects.exists()


def test_the_page_form_saves_it_and_the_section_shows_it(client, prepaid_account):
    client.force_login(prepaid_account.user)
    answer = client.post(
        "/billing/auto-topup/", {"enabled": "on", "threshold": "10", "amount": "25"}
    )
    assert answer.status_code == 302
    assert AutoTopUp.objects.get(account=prepaid_account).enabled
    html = client.get("/billing/").content.decode()
    assert "No saved card yet" in text_of(html, "auto-topup-card")
    assert 'name="enabled" id="id_enabled" checked' in html


def test_the_page_form_refuses_an_amount_outside_the_purchase_limits(client, prepaid_account):
    client.force_login(prepaid_account.user)
    answer = client.post(
        "/billing/auto-topup/", {"enabled": "on", "threshold": "10", "amount": "1"}
    )
    assert answer.status_code == 400
    assert "The minimum purchase is $5.00." in answer.content.decode()
    assert not AutoTopUp.objects.exists()


def test_a_purchase_with_auto_top_up_on_asks_checkout_to_save_the_card(
    client, prepaid_account, stripe_http
):
    BillingAccount.objects.filter(pk=prepaid_account.pk).update(stripe_customer_id="cus_auto")
    client.force_login(prepaid_account.user)
    assert put(client, VALID).status_code == 200
    created = stripe_http.post(
        f"{API}/v1/checkout/sessions", json=checkout_session("cs_save", prepaid_account.pk)
    )
    answer = client.post(
        "/api/billing/purchase-credits", data={"amount": 2500}, content_type="application/json"
    )
    assert answer.status_code == 201
    sent = form_body(created.calls[0])
    assert sent["payment_intent_data[setup_future_usage]"] == "off_session"
    assert sent["customer"] == "cus_auto"


def test_a_purchase_without_auto_top_up_saves_no_card(client, prepaid_account, stripe_http):
    client.force_login(prepaid_account.user)
    created = stripe_http.post(
        f"{API}/v1/checkout/sessions", json=checkout_session("cs_plain", prepaid_account.pk)
    )
    client.post(
        "/api/billing/purchase-credits", data={"amount": 2500}, content_type="application/json"
    )
    assert "payment_intent_data[setup_future_usage]" not in form_body(created.calls[0])


def test_save_a_card_opens_a_setup_mode_checkout_session(client, prepaid_account, stripe_http):
    BillingAccount.objects.filter(pk=prepaid_account.pk).update(stripe_customer_id="cus_auto")
    client.force_login(prepaid_account.user)
    session = checkout_session(
        "cs_setup",
        prepaid_account.pk,
        mode="setup",
        amount_total=None,
        payment_status="no_payment_required",
    )
    created = stripe_http.post(f"{API}/v1/checkout/sessions", json=session)
    answer = client.post("/billing/auto-topup/card/")
    assert answer.status_code == 302
    assert answer["Location"] == session["url"]
    sent = form_body(created.calls[0])
    assert (sent["mode"], sent["customer"]) == ("setup", "cus_auto")
