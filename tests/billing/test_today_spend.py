"""Today so far (estimate) on /billing/ and GET /api/billing; available and runway for prepaid."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from billing.ledger.calendar import billing_today
from billing.models import Resource
from tests.billing.page_data import clusters_make
from usage.models import CollectionStatus, SpendEstimate, UsageDay

# Every service here reads today: the clock is fixed on the `today` fixture's day.
pytestmark = pytest.mark.usefixtures("today")


def estimate_make(*, user, cluster, cost: str, stale: bool = False, minutes_ago: int = 1):
    return SpendEstimate.objects.create(
        user=user,
        cluster=cluster,
        resource=Resource.CPU_HOURS,
        day=billing_today(),
        quantity=Decimal(10),
        cost=Decimal(cost),
        computed_at=timezone.now() - timedelta(minutes=minutes_ago),
        stale=stale,
    )


@pytest.fixture
def funded(fund, prepaid_account):
    fund(100_00)
    today = billing_today()
    cluster = clusters_make(1)[0]
    UsageDay.objects.bulk_create(
        UsageDay(
            user=prepaid_account.user,
            cluster=cluster,
            date=today - timedelta(days=d),
            status=CollectionStatus.COMPLETE,
            cost=Decimal(2),
            cost_cents=2_00,
        )
        for d in range(1, 8)
    )
    estimate_make(user=prepaid_account.user, cluster=cluster, cost="3.456")
    return prepaid_account


def test_a_prepaid_user_sees_today_available_and_runway_on_the_page(client, owner, funded):
    client.force_login(owner)
    html = client.get("/billing/").content.decode()
    assert "Today so far (estimate)" in html
    assert 'data-testid="today-estimate">$3.46<' in html
    assert 'data-testid="available">$96.54<' in html
    assert "About 48 days at your last 7 days" in html  # 96.54 / 2.00 a day


def test_the_api_gives_today_available_and_runway(client, owner, funded):
    client.force_login(owner)
    today = client.get("/api/billing").json()["today"]
    assert today["cost_cents"] == 346
    assert today["available_cents"] == 96_54
    assert today["runway_days"] == 48
    assert today["stale"] is False


def test_a_postpaid_user_sees_the_estimate_without_available(client, owner):
    estimate_make(user=owner, cluster=clusters_make(1)[0], cost="1.00")
    client.force_login(owner)
    today = client.get("/api/billing").json()["today"]
    assert (today["cost_cents"], today["available_cents"], today["runway_days"]) == (
        100,
        None,
        None,
    )
    assert 'data-testid="available"' not in client.get("/billing/").content.decode()


def test_an_old_or_flagged_estimate_is_shown_as_stale(client, owner, outsider):
    cluster = clusters_make(1)[0]
    estimate_make(user=owner, cluster=cluster, cost="1.00", minutes_ago=60)
    estimate_make(user=outsider, cluster=cluster, cost="1.00", stale=True)
    for user in (owner, outsider):
        client.force_login(user)
        assert client.get("/api/billing").json()["today"]["stale"] is True
        assert 'data-testid="today-stale"' in client.get("/billing/").content.decode()


def test_the_outsider_never_sees_the_owners_estimate(client, owner, outsider):
    estimate_make(user=owner, cluster=clusters_make(1)[0], cost="9.99")
    client.force_login(outsider)
    assert client.get("/api/billing").json()["today"]["cost_cents"] == 0


def test_the_cached_page_follows_a_new_estimate_and_its_age(client, owner):
    cluster = clusters_make(1)[0]
    estimate = estimate_make(user=owner, cluster=cluster, cost="1.00")
    client.force_login(owner)
    assert 'data-testid="today-stale"' not in client.get("/billing/").content.decode()
    SpendEstimate.objects.filter(pk=estimate.pk).update(cost=Decimal("2.50"))
    body = client.get("/billing/").content.decode()
    assert "$2.50" in body and 'data-testid="today-stale"' not in body
    # No row changes, only the clock: the same estimate is now old, and the page says so.
    later = timezone.now() + timedelta(minutes=120)
    with time_machine.travel(later, tick=False):
        assert 'data-testid="today-stale"' in client.get("/billing/").content.decode()
