"""In a real Chromium: the demo prepaid user sees today's estimate, sets a budget on /billing/,
and sees it kept."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from billing.ledger.calendar import billing_today
from billing.models import BudgetSettings, Resource, SpendPause
from clusters.models import Cluster
from usage.models import SpendEstimate

pytestmark = pytest.mark.browser


def _spent_today(email: str) -> User:
    """$2.70 of GPU so far today, estimated two minutes ago (fresh)."""
    user = User.objects.get(email=email)
    SpendEstimate.objects.create(
        user=user,
        cluster=Cluster.objects.first()
        or Cluster.objects.create(name="b", hopsworks_url="https://b.test"),
        resource=Resource.GPU_HOURS,
        day=billing_today(),
        quantity=Decimal(3),
        cost=Decimal("2.70"),
        computed_at=timezone.now() - timedelta(minutes=2),
    )
    return user


def test_prepaid_user_sets_a_budget_and_sees_todays_estimate(demo, login, page, screenshot):
    user = _spent_today(demo["prepaid"])
    login(demo["prepaid"])
    expect(page.get_by_role("heading", name="Today so far (estimate)")).to_be_visible()
    expect(page.get_by_test_id("today-estimate")).to_have_text("$2.70")
    expect(page.get_by_test_id("available")).to_be_visible()

    page.get_by_label("Monthly budget (USD)").fill("150")
    page.get_by_label("Alert at (% of budget)").fill("50, 90")
    page.get_by_test_id("save-alerts").click()
    expect(page.get_by_text("Your budget and alerts are saved.")).to_be_visible()
    expect(page.get_by_label("Monthly budget (USD)")).to_have_value("150.00")
    screenshot("billing-budget")
    row = BudgetSettings.objects.get(account__user=user)
    assert (row.monthly_budget_cents, row.alert_percents) == (150_00, [50, 90])


def test_a_hard_cap_below_the_spend_shows_the_pause_banner_and_raising_it_lifts(
    demo, login, page, screenshot
):
    user = _spent_today(demo["prepaid"])
    login(demo["prepaid"])
    page.get_by_label("Monthly budget (USD)").fill("2")
    page.get_by_label("Hard cap").check()
    page.get_by_test_id("save-alerts").click()
    expect(page.get_by_test_id("paused")).to_contain_text("paused by your spend cap")
    expect(page.get_by_label("Hard cap")).to_be_checked()
    screenshot("billing-paused")

    page.get_by_label("Monthly budget (USD)").fill("100000")
    page.get_by_test_id("save-alerts").click()
    expect(page.get_by_text("Your budget and alerts are saved.")).to_be_visible()
    expect(page.get_by_test_id("paused")).to_have_count(0)
    assert SpendPause.objects.get(account__user=user).lift_reason
