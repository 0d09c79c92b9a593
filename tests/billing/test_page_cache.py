"""The billing page's cached panels: a repeat request reuses them, and every ledger posting
or change to the user's usage shows at once (never stale money)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings

from tests.billing.page_data import clusters_make, usage_make
from tests.html import shown_amount, text_of
from usage.models import UsageDay


@pytest.fixture
def usage(owner, today):
    usage_make(user=owner, clusters=clusters_make(2), first=today - timedelta(days=40), last=today)
    return today


def test_repeat_request_reuses_the_panels(
    client, owner, prepaid_account, usage, django_assert_max_num_queries
):
    client.force_login(owner)
    first = client.get("/billing/")
    # session, user, account with version (which covers today's estimate and the alerts too)
    with django_assert_max_num_queries(3):
        second = client.get("/billing/")
    assert _without_tokens(second) == _without_tokens(first)


def _without_tokens(response) -> str:
    """The page minus what differs per response (CSRF and CSP tokens)."""
    return re.sub(r'(csrfmiddlewaretoken" value|nonce)="[^"]*"', "", response.content.decode())


def _mtd_total(client) -> Decimal:
    return shown_amount(text_of(client.get("/billing/").content.decode(), "mtd-total"))


def test_a_new_posting_shows_at_once(fund, client, owner, prepaid_account, usage):
    client.force_login(owner)
    client.get("/billing/")
    fund(12_34, reason="goodwill for the outage", key="cache-g1")
    body = client.get("/billing/").content.decode()
    assert "goodwill for the outage" in body
    assert "$12.34" in body


def test_a_recollected_day_shows_at_once(client, owner, prepaid_account, usage):
    client.force_login(owner)
    before = _mtd_total(client)
    day = UsageDay.objects.filter(user=owner, date=usage).first()
    day.cost += Decimal("1000")
    day.cost_cents += 1000_00
    day.save()
    assert _mtd_total(client) == before + Decimal("1000")


@pytest.mark.parametrize("change", [{"cost": 0, "cost_cents": 0}, {"status": "partial"}])
def test_a_day_rewritten_without_updated_at_still_shows(
    client, owner, prepaid_account, usage, change
):
    client.force_login(owner)
    before = _mtd_total(client)
    UsageDay.objects.filter(user=owner, date=usage).update(**change)
    assert _mtd_total(client) < before


@override_settings(BILLING_PAGE_CACHE_SECONDS=0)
def test_cache_can_be_turned_off(
    client, owner, prepaid_account, usage, django_assert_max_num_queries
):
    client.force_login(owner)
    client.get("/billing/")
    with django_assert_max_num_queries(15) as ctx:
        response = client.get("/billing/")
    assert response.status_code == 200
    assert len(ctx.captured_queries) > 5  # the panels were computed again
