"""What people see when something is wrong: branded pages that say what happened and link
back, JSON under /api/, and the staff panel's title and index."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import path

from billing.ledger import billing_account_ensure
from config import urls as root_urls


def test_an_unknown_page_gets_the_branded_404_with_a_way_back(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert 'data-testid="error-404"' in body and "/no-such-page/" in body
    assert 'href="/billing/"' in body and "css/app.css" in body


def test_an_unknown_api_path_gets_json_pointing_at_the_docs(client, db):
    response = client.get("/api/no-such-endpoint")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "No API endpoint at /api/no-such-endpoint.",
        "docs": "/api/docs/",
    }


def test_the_api_root_says_where_the_docs_are(client, db):
    assert client.get("/api/").json() == {"docs": "/api/docs/", "schema": "/api/schema/"}


def _boom(request):
    raise RuntimeError("unexpected")


@pytest.fixture
def crashing_urls(settings):
    class Urls:
        urlpatterns = [
            path("crash/", _boom),
            path("api/crash/", _boom),
            *root_urls.urlpatterns,
        ]
        handler404 = root_urls.handler404
        handler500 = root_urls.handler500

    settings.ROOT_URLCONF = Urls


def test_a_crash_gets_the_branded_500_page_and_json_under_api(db, crashing_urls):
    client = Client(raise_request_exception=False)
    page = client.get("/crash/")
    assert page.status_code == 500
    assert 'data-testid="error-500"' in page.content.decode()
    api = client.get("/api/crash/")
    assert api.status_code == 500 and api.json()["detail"].startswith("Server error")


def test_a_postpaid_user_opening_credits_gets_an_explanation(client, owner):
    billing_account_ensure(user=owner)
    client.force_login(owner)
    response = client.get("/billing/credits/")
    assert response.status_code == 403
    body = response.content.decode()
    assert 'data-testid="credits-postpaid"' in body and "postpaid" in body
    assert 'href="/billing/"' in body


def test_the_lockout_page_is_branded_and_says_when_to_retry(client, db, settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(3):
        response = client.post(
            "/accounts/login/", {"username": "someone@example.com", "password": "wrong"}
        )
    assert response.status_code == 429
    body = response.content.decode()
    assert 'data-testid="lockout"' in body and "2 failed attempts" in body and 'href="/"' in body


def test_the_staff_panel_is_hopsbill_staff_without_djstripe_on_its_index(client, staff):
    client.force_login(staff)
    index = client.get("/admin/").content.decode()
    assert "<title>Billing, usage and clusters | Hopsbill staff</title>" in index
    assert "/admin/djstripe/customer/" not in index  # dj-stripe's models are off the index
    assert index.count(">Prices<") == 1  # ours only, not dj-stripe's as well
    assert 'href="/admin/djstripe/"' in index  # but linked
    assert client.get("/admin/djstripe/").status_code == 200
    assert client.get("/admin/djstripe/customer/").status_code == 200


def test_the_staff_panel_shows_no_credit_balance_for_postpaid_accounts(client, staff, owner):
    assert not billing_account_ensure(user=owner).is_prepaid
    client.force_login(staff)
    rows = client.get("/admin/billing/billingaccount/").content.decode()
    assert "owner@example.com" in rows
    assert "$0.00" not in rows
