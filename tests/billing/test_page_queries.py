"""Query budget: the billing page and GET /api/billing stay within 16 queries for a user with
a year of usage across 3 clusters and 5,000 ledger rows (aggregates run in the database)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from billing.models import BillingAccount
from tests.billing.page_data import clusters_make, ledger_make, usage_make
from tests.billing.test_page_invoices import invoice_make
from tests.html import table_rows

MAX_QUERIES = 16  # 15, and the spend-cap pause banner (not cached: a sampler pass changes it)


@pytest.fixture
def year_of_usage(owner, today):
    usage_make(user=owner, clusters=clusters_make(3), first=today - timedelta(days=365), last=today)


@pytest.fixture
def big_ledger(prepaid_account):
    ledger_make(account=prepaid_account, rows=5000)
    return prepaid_account


@pytest.fixture
def postpaid_invoices(owner):
    BillingAccount.objects.filter(user=owner).update(stripe_customer_id="cus_q")
    for i in range(15):
        invoice_make("cus_q", f"in_q{i}", f"HB-{i}", 10_00 + i)


def test_prepaid_billing_page_query_budget(
    client, owner, year_of_usage, big_ledger, django_assert_max_num_queries
):
    client.force_login(owner)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get("/billing/?days=90&page=7")
    assert response.status_code == 200
    assert "Page 7 of 200" in response.content.decode()  # 5,000 postings, 25 a page


def test_postpaid_billing_page_query_budget(
    client, owner, year_of_usage, postpaid_invoices, django_assert_max_num_queries
):
    client.force_login(owner)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get("/billing/?days=90")
    assert response.status_code == 200
    assert len(table_rows(response.content.decode(), "invoices")) == 12


@pytest.mark.parametrize("days", [30, 90])
def test_api_billing_query_budget(
    client, owner, year_of_usage, big_ledger, django_assert_max_num_queries, days
):
    client.force_login(owner)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(f"/api/billing?days={days}")
    assert response.status_code == 200
    assert response.json()["balance"]["balance_cents"] == big_ledger.balance_cents


def test_api_billing_postpaid_query_budget(
    client, owner, year_of_usage, postpaid_invoices, django_assert_max_num_queries
):
    client.force_login(owner)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get("/api/billing")
    assert len(response.json()["recent_invoices"]) == 12
