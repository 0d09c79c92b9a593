"""GET /api/billing and GET /api/billing/balance: owner, outsider, anonymous, staff, bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings

from billing.models import BillingAccount
from tests.billing.page_data import clusters_make, usage_make
from tests.billing.test_page_invoices import invoice_make


@pytest.fixture
def owner_usage(owner, today):
    usage_make(user=owner, clusters=clusters_make(2), first=today - timedelta(days=40), last=today)


@pytest.fixture
def funded(fund, prepaid_account):
    fund(42_00)
    prepaid_account.refresh_from_db()
    return prepaid_account


def test_anonymous_gets_403(client, db):
    assert client.get("/api/billing").status_code == 403
    assert client.get("/api/billing/balance").status_code == 403


def test_owner_gets_own_summary(client, owner, owner_usage):
    client.force_login(owner)
    response = client.get("/api/billing")
    assert response.status_code == 200
    data = response.json()
    assert data["email"] == "owner@example.com"
    assert data["mode"] == "postpaid" and data["status"] == "active"
    assert data["balance"] is None
    mtd = data["month_to_date"]
    assert mtd["cost_cents"] > 0 and mtd["forecast_cents"] >= mtd["cost_cents"]
    assert {c["cluster"] for c in mtd["by_cluster"]} == {"c1", "c2"}
    serving = next(r for r in mtd["by_resource"] if r["resource"] == "api_calls_model_serving")
    assert serving["quantity"] is None and serving["not_measured_lines"] > 0
    assert len(data["daily"]) == 30
    assert isinstance(mtd["cost"], str)  # exact decimal, never a float


def test_days_90(client, owner, owner_usage):
    client.force_login(owner)
    assert len(client.get("/api/billing?days=90").json()["daily"]) == 90


@pytest.mark.parametrize(("query", "field"), [("days=7", "days"), ("account_id=x", "account_id")])
def test_bad_input_is_400_naming_the_field(client, owner, query, field):
    client.force_login(owner)
    response = client.get(f"/api/billing?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_postpaid_summary_lists_recent_invoices(client, owner):
    BillingAccount.objects.filter(user=owner).update(stripe_customer_id="cus_o")
    invoice_make("cus_o", "in_1", "HB-1", 10_00)
    client.force_login(owner)
    invoices = client.get("/api/billing").json()["recent_invoices"]
    assert [i["number"] for i in invoices] == ["HB-1"]
    assert invoices[0]["hosted_invoice_url"].endswith("/in_1")


def test_prepaid_summary_has_balance_and_no_invoices(client, owner, funded):
    client.force_login(owner)
    data = client.get("/api/billing").json()
    assert data["mode"] == "prepaid"
    assert data["balance"]["balance_cents"] == 42_00
    assert data["recent_invoices"] == []


def test_outsider_sees_only_own_data_and_404_for_others(client, outsider, owner, owner_usage):
    client.force_login(outsider)
    data = client.get("/api/billing").json()
    assert data["email"] == "outsider@example.com"
    assert data["month_to_date"]["cost_cents"] == 0
    other = owner.billing_account.pk
    assert client.get(f"/api/billing?account_id={other}").status_code == 404
    assert client.get(f"/api/billing/balance?account_id={other}").status_code == 404


def test_owner_may_name_own_account(client, owner):
    client.force_login(owner)
    own = owner.billing_account.pk
    assert client.get(f"/api/billing?account_id={own}").status_code == 200


def test_staff_reads_any_account(client, staff, owner, funded):
    client.force_login(staff)
    response = client.get(f"/api/billing?account_id={funded.pk}")
    assert response.status_code == 200 and response.json()["email"] == "owner@example.com"
    balance = client.get(f"/api/billing/balance?account_id={funded.pk}").json()
    assert balance["balance_cents"] == 42_00
    assert client.get("/api/billing?account_id=999999").status_code == 404


@override_settings(LOW_BALANCE_THRESHOLD_CENTS=50_00)
def test_balance_for_prepaid_owner(client, owner, funded):
    client.force_login(owner)
    response = client.get("/api/billing/balance")
    assert response.status_code == 200
    assert response.json() == {
        "account_id": funded.pk,
        "currency": "usd",
        "status": "active",
        "balance_cents": 42_00,
        "low_balance": True,
        "low_balance_threshold_cents": 50_00,
    }


def test_balance_of_postpaid_account_is_404(client, owner):
    client.force_login(owner)
    response = client.get("/api/billing/balance")
    assert response.status_code == 404
    assert "not prepaid" in response.json()["detail"]
