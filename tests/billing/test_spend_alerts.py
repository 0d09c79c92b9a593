"""Budgets and alerts: settings from the page and the API, each alert emailed once per crossing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core import mail

from billing.budgets.alerts import alert_settings_set, spend_alerts_check
from billing.ledger import billing_account_ensure, credits_record_purchase
from billing.models import BudgetSettings, Resource, SpendAlert
from tests.billing.page_data import clusters_make
from tests.concurrency import run_at_once
from tests.factories import UsageDayFactory
from usage.models import SpendEstimate

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def estimate_set(user, cluster, cents: int, *, stale: bool = False) -> None:
    SpendEstimate.objects.update_or_create(
        user=user,
        cluster=cluster,
        resource=Resource.CPU_HOURS,
        defaults={
            "day": NOW.date(),
            "quantity": Decimal(1),
            "cost": Decimal(cents) / 100,
            "computed_at": NOW,
            "stale": stale,
        },
    )


@pytest.fixture
def cluster(db):
    return clusters_make(1)[0]


def test_budget_alerts_are_sent_once_per_percentage_per_month(
    owner, cluster, django_capture_on_commit_callbacks
):
    account = billing_account_ensure(user=owner)
    alert_settings_set(
        account=account,
        monthly_budget_cents=10_00,
        alert_percents=[50, 80, 100],
        low_balance_thresholds_cents=None,
    )
    UsageDayFactory(user=owner, cluster=cluster, date=date(2026, 11, 19), cost=Decimal(6))
    # last month: not this month's spend
    UsageDayFactory(user=owner, cluster=cluster, date=date(2026, 10, 31), cost=Decimal(60))
    with django_capture_on_commit_callbacks(execute=True):
        spend_alerts_check(account=account, now=NOW)
        spend_alerts_check(account=account, now=NOW)
    assert [m.subject for m in mail.outbox] == ["You have used 50% of your monthly budget"]

    estimate_set(owner, cluster, 2_50)  # 8.50 of 10.00 with today's estimate
    with django_capture_on_commit_callbacks(execute=True):
        spend_alerts_check(account=account, now=NOW)
        spend_alerts_check(account=account, now=NOW)
    assert len(mail.outbox) == 2 and "80%" in mail.outbox[1].subject
    assert sorted(SpendAlert.objects.values_list("threshold", flat=True)) == [50, 80]
    assert SpendAlert.objects.filter(emailed_at__isnull=True).count() == 0


def test_low_balance_alerts_use_available_credits_and_rearm_after_buying(
    prepaid_account, owner, cluster, settings, django_capture_on_commit_callbacks
):
    settings.LOW_BALANCE_THRESHOLD_CENTS = 10_00  # the default threshold
    credits_record_purchase(account=prepaid_account, amount_cents=30_00, stripe_session_id="cs_1")
    prepaid_account.refresh_from_db()
    estimate_set(owner, cluster, 25_00)  # available 5.00
    with django_capture_on_commit_callbacks(execute=True):
        spend_alerts_check(account=prepaid_account, now=NOW)
        spend_alerts_check(account=prepaid_account, now=NOW)
    assert len(mail.outbox) == 1 and "below $10.00" in mail.outbox[0].subject

    credits_record_purchase(account=prepaid_account, amount_cents=50_00, stripe_session_id="cs_2")
    prepaid_account.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        spend_alerts_check(account=prepaid_account, now=NOW)  # available 55.00: fine
    assert len(mail.outbox) == 1
    estimate_set(owner, cluster, 75_00)  # available 5.00 again: a new crossing
    with django_capture_on_commit_callbacks(execute=True):
        spend_alerts_check(account=prepaid_account, now=NOW)
    assert len(mail.outbox) == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_checks_send_each_alert_once(owner, staff):
    """Eight sampler passes finishing at once see the same crossings (real PostgreSQL)."""
    account = billing_account_ensure(user=owner)
    cluster = clusters_make(1)[0]
    alert_settings_set(
        account=account,
        monthly_budget_cents=10_00,
        alert_percents=[50, 80, 100],
        low_balance_thresholds_cents=None,
    )
    estimate_set(owner, cluster, 12_00)
    _, errors = run_at_once(lambda i: spend_alerts_check(account=account, now=NOW), 8)
    assert errors == []
    assert sorted(SpendAlert.objects.values_list("threshold", flat=True)) == [50, 80, 100]
    assert len(mail.outbox) == 3


def test_the_api_sets_the_callers_own_alerts(client, owner):
    client.force_login(owner)
    body = {"monthly_budget": "250.00", "alert_percents": [90, 50], "low_balance_thresholds": [5]}
    response = client.put("/api/billing/alerts", body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["alert_percents"] == [50, 90]
    row = BudgetSettings.objects.get(account__user=owner)
    assert (row.monthly_budget_cents, row.low_balance_thresholds_cents) == (250_00, [5_00])


@pytest.mark.parametrize(
    "body",
    [
        {"monthly_budget": "-5"},
        {"monthly_budget": "0"},
        {"monthly_budget": "1e12"},
        {"monthly_budget": "lots"},
        {"monthly_budget": "10", "alert_percents": [0]},
        {"monthly_budget": "10", "alert_percents": ["x"]},
        {"monthly_budget": "10", "alert_percents": [5000]},
        {"monthly_budget": "10", "low_balance_thresholds": ["-1"]},
        {"monthly_budget": "10", "low_balance_thresholds": ["NaN"]},
        {"monthly_budget": "10.001"},
    ],
)
def test_the_api_refuses_bad_values_with_a_400_and_changes_nothing(client, owner, body):
    client.force_login(owner)
    response = client.put("/api/billing/alerts", body, content_type="application/json")
    assert response.status_code == 400
    assert not BudgetSettings.objects.exists()


def test_nobody_sets_another_accounts_alerts(client, owner, outsider):
    other = billing_account_ensure(user=owner)
    client.force_login(outsider)
    body = {"monthly_budget": "5", "account_id": other.pk}
    response = client.put("/api/billing/alerts", body, content_type="application/json")
    assert response.status_code == 403
    assert not BudgetSettings.objects.exists()
    client.logout()
    assert (
        client.put("/api/billing/alerts", body, content_type="application/json").status_code == 403
    )


def test_the_page_form_saves_and_shows_the_history(client, owner, cluster):
    client.force_login(owner)
    response = client.post(
        "/billing/alerts/",
        {"monthly_budget": "10", "alert_percents": "50, 100", "low_balance_thresholds": ""},
    )
    assert response.status_code == 302
    account = billing_account_ensure(user=owner)
    assert BudgetSettings.objects.get(account=account).alert_percents == [50, 100]
    SpendAlert.objects.create(
        account=account, kind="budget", threshold=50, period="2026-11:1000", amount_cents=600
    )
    html = client.get("/billing/").content.decode()
    assert 'data-testid="alert-history"' in html and "Budget 50%" in html


def test_the_page_form_refuses_bad_values(client, owner):
    client.force_login(owner)
    response = client.post("/billing/alerts/", {"monthly_budget": "-3", "alert_percents": "50"})
    assert response.status_code == 400
    assert not BudgetSettings.objects.exists()


def test_the_cached_page_shows_a_saved_budget_at_once(client, owner, prepaid_account):
    client.force_login(owner)
    assert 'value="123.00"' not in client.get("/billing/").content.decode()
    alert_settings_set(
        account=prepaid_account,
        monthly_budget_cents=123_00,
        alert_percents=[50],
        low_balance_thresholds_cents=[5_00],
    )
    body = client.get("/billing/").content.decode()
    assert 'value="123.00"' in body and 'name="csrfmiddlewaretoken"' in body
