"""The billing page /billing/: access, what each mode sees, usage panels, the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings

from accounts.models import ProvisioningRun
from billing.ledger import billing_account_ensure
from billing.ledger.calendar import month_bounds
from billing.ledger.money import format_cents, to_cents
from billing.models import AccountStatus, BillingAccount
from tests.billing.page_data import DAY_LINES, clusters_make, day_cost, ledger_make, usage_make
from tests.html import table_rows


@pytest.fixture
def clusters(db):
    return clusters_make(2)


@pytest.fixture
def owner_usage(owner, clusters, today):
    first, _ = month_bounds(today)
    usage_make(user=owner, clusters=clusters, first=today - timedelta(days=95), last=today)
    return first


def test_anonymous_is_sent_to_login(client, db):
    response = client.get("/billing/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_postpaid_user_sees_mode_invoices_and_no_prepaid_controls(client, owner, owner_usage):
    client.force_login(owner)
    response = client.get("/billing/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Postpaid" in body
    assert 'data-testid="invoices"' in body
    assert "Buy credits" not in body
    assert 'data-testid="balance"' not in body
    assert 'data-testid="ledger"' not in body


def test_prepaid_user_sees_balance_ledger_and_buy_button_but_no_invoices(
    fund, client, owner, prepaid_account
):
    fund(50_00, reason="welcome", key="g1")
    client.force_login(owner)
    body = client.get("/billing/").content.decode()
    assert "$50.00" in body
    assert 'data-testid="buy-credits"' in body
    assert 'data-testid="ledger"' in body
    assert "welcome" in body
    assert 'data-testid="invoices"' not in body


@override_settings(LOW_BALANCE_THRESHOLD_CENTS=100_00)
def test_low_balance_warning_below_threshold(fund, client, owner, prepaid_account):
    fund(20_00, key="g1")
    client.force_login(owner)
    assert 'data-testid="low-balance"' in client.get("/billing/").content.decode()


@override_settings(LOW_BALANCE_THRESHOLD_CENTS=10_00)
def test_no_low_balance_warning_above_threshold(fund, client, owner, prepaid_account):
    fund(20_00, key="g1")
    client.force_login(owner)
    assert 'data-testid="low-balance"' not in client.get("/billing/").content.decode()


@pytest.mark.parametrize(
    ("status", "text"),
    [(AccountStatus.IN_ARREARS, "invoice payment failed"), (AccountStatus.SUSPENDED, "suspended")],
)
def test_banner_for_arrears_and_suspension(client, owner, status, text):
    BillingAccount.objects.filter(user=owner).update(status=status)
    client.force_login(owner)
    body = client.get("/billing/").content.decode()
    assert 'role="alert"' in body
    assert text in body


def test_active_account_has_no_banner(client, owner):
    client.force_login(owner)
    assert 'data-testid="banner"' not in client.get("/billing/").content.decode()


def test_month_panel_shows_total_breakdowns_and_forecast(client, owner, owner_usage, today):
    client.force_login(owner)
    body = client.get("/billing/").content.decode()
    first = month_bounds(today)[0]
    total = 2 * sum(to_cents(day_cost(first + timedelta(days=n))) for n in range(today.day))
    assert f'data-testid="mtd-total">{format_cents(total)}<' in body
    forecast = to_cents(Decimal(total) / 100 / today.day * month_bounds(today)[1].day)
    assert f'data-testid="forecast">{format_cents(forecast)}<' in body
    assert "Cost by resource" in body and "Cost by project" in body and "Cost by cluster" in body
    assert "Not measured" in body


@pytest.mark.parametrize("days", [30, 90])
def test_chart_covers_the_chosen_window(client, owner, owner_usage, days):
    client.force_login(owner)
    body = client.get(f"/billing/?days={days}").content.decode()
    assert body.count('<a class="bar"') == days
    assert f"last {days} days" in body


def test_bad_days_falls_back_to_thirty(client, owner, owner_usage):
    client.force_login(owner)
    assert "last 30 days" in client.get("/billing/?days=7").content.decode()


def test_usage_days_expand_per_cluster_and_say_not_measured(client, owner, owner_usage, today):
    client.force_login(owner)
    body = client.get("/billing/").content.decode()
    assert f'id="day-{today.isoformat()}"' in body
    assert "Cluster c1" in body and "Cluster c2" in body
    assert '<td class="" data-label="Project">alpha</td>' in body
    assert "Not measured" in body


def test_usage_days_of_another_month(client, owner, owner_usage, today):
    client.force_login(owner)
    earlier = today.replace(day=1) - timedelta(days=1)
    body = client.get(f"/billing/?month={earlier:%Y-%m}").content.decode()
    assert f'id="day-{earlier.isoformat()}"' in body
    assert f'id="day-{today.isoformat()}"' not in body


def test_page_shows_only_own_usage(client, owner, outsider, owner_usage):
    client.force_login(outsider)
    body = client.get("/billing/").content.decode()
    assert 'data-testid="day"' not in body
    assert 'data-testid="mtd-total">$0.00<' in body


def test_ledger_is_paged(client, owner, prepaid_account):
    ledger_make(account=prepaid_account, rows=60)
    client.force_login(owner)
    first = client.get("/billing/")
    assert len(table_rows(first.content.decode(), "ledger")) == 25
    third = client.get("/billing/?page=3")
    assert len(table_rows(third.content.decode(), "ledger")) == 10
    assert 'rel="prev"' in third.content.decode()


def test_csv_export_of_a_month(client, owner, owner_usage, today):
    client.force_login(owner)
    month = today
    response = client.get(f"/billing/export.csv?month={month:%Y-%m}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"hopsbill-usage-{month:%Y-%m}.csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == month.day * 2 * len(DAY_LINES)
    unmeasured = [r for r in rows if r["resource"] == "api_calls_model_serving"]
    assert all(r["quantity"] == "" and r["measured"] == "no" for r in unmeasured)


@pytest.mark.parametrize("month", ["", "2024-13", "June", "2024-1"])
def test_csv_export_rejects_a_bad_month(client, owner, month):
    client.force_login(owner)
    response = client.get(f"/billing/export.csv?month={month}")
    assert response.status_code == 400
    assert b"month" in response.content


def test_csv_export_requires_login(client, db):
    assert client.get("/billing/export.csv?month=2024-01").status_code == 302


def test_csv_export_has_only_own_usage(client, outsider, owner_usage, today):
    client.force_login(outsider)
    response = client.get(f"/billing/export.csv?month={today:%Y-%m}")
    assert b"".join(response.streaming_content).decode().count("\n") == 1


def test_staff_sees_own_billing_page(client, staff):
    billing_account_ensure(user=staff)
    client.force_login(staff)
    assert client.get("/billing/").status_code == 200


def test_names_from_clusters_are_escaped(client, owner, clusters, today):
    from usage.models import UsageDay, UsageLineItem

    day = UsageDay.objects.create(user=owner, cluster=clusters[0], date=today, status="partial")
    UsageLineItem.objects.create(
        usage_day=day,
        project="<script>alert(1)</script>",
        resource="cpu_hours",
        instance_type="<b>x</b>",
        quantity=1,
    )
    client.force_login(owner)
    body = client.get("/billing/").content.decode()
    assert "<script>alert(1)</script>" not in body and "<b>x</b>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "incomplete" in body


@pytest.mark.parametrize(
    ("status", "text"),
    [
        ("running", "still being set up"),
        ("waiting", "still being set up"),
        ("failed", "needs our attention"),
    ],
)
def test_banner_while_provisioning_is_unfinished(client, owner, status, text):
    ProvisioningRun.objects.create(user=owner, status=status)
    client.force_login(owner)
    body = client.get("/billing/").content.decode()
    assert text in body
    assert client.get("/api/billing").json()["provisioning"] == status


def test_no_provisioning_banner_when_done_or_absent(client, owner):
    client.force_login(owner)
    assert "being set up" not in client.get("/billing/").content.decode()
    assert client.get("/api/billing").json()["provisioning"] is None
