"""Metered usage sync: complete usage days to Stripe meter events, each exactly once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
from django.conf import settings

from billing.ledger.calendar import day_noon
from billing.models import MeterReport
from billing.payments import gateway
from billing.payments.stripe_sync import usage_sync_stripe
from tests.factories import ClusterFactory
from tests.stripe_fakes import API, stripe_object
from usage.models import UsageDay

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
EVENTS = f"{API}/v1/billing/meter_events"
CANCELS = f"{API}/v1/billing/meter_event_adjustments"


@pytest.fixture
def cluster(db):
    return ClusterFactory(name="c1")


@pytest.fixture
def postpaid(owner):
    account = owner.billing_account
    account.stripe_customer_id = "cus_sync"
    account.save()
    return account


def usage(user, cluster, day: date, cost: str, status: str = "complete") -> UsageDay:
    row, _ = UsageDay.objects.update_or_create(
        user=user,
        cluster=cluster,
        date=day,
        defaults={"status": status, "cost": Decimal(cost)},
    )
    return row


def accept_events(stripe_http):
    return stripe_http.post(EVENTS, json=stripe_object("billing.meter_event"))


def sent(stripe_http) -> list[dict]:
    return [
        dict(parse_qsl(c.request.body))
        for c in stripe_http.calls
        if c.request.url == EVENTS and c.response is not None and c.response.status_code == 200
    ]


def reports(account):
    return list(
        MeterReport.objects.filter(account=account)
        .order_by("usage_date", "revision")
        .values_list("usage_date", "revision", "value", "status")
    )


def test_each_complete_day_is_reported_once_and_a_rerun_sends_nothing(
    stripe_http, postpaid, cluster
):
    accept_events(stripe_http)
    usage(postpaid.user, cluster, date(2026, 11, 20), "1.234567")
    usage(postpaid.user, cluster, date(2026, 11, 21), "2.5")

    result = usage_sync_stripe(now=NOW)

    assert result.sent == 2
    bodies = sent(stripe_http)
    assert [b["payload[value]"] for b in bodies] == ["123", "250"]
    assert bodies[0]["identifier"] == f"hopsbill-{postpaid.pk}-20261120-r0"
    assert bodies[0]["payload[stripe_customer_id]"] == "cus_sync"
    assert bodies[0]["event_name"] == settings.STRIPE_METER_EVENT_NAME
    assert bodies[0]["timestamp"] == str(int(datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp()))
    assert stripe_http.calls[0].request.headers["Idempotency-Key"] == (
        f"meter-event:hopsbill-{postpaid.pk}-20261120-r0"
    )

    rerun = usage_sync_stripe(now=NOW + timedelta(hours=1))
    assert rerun.sent == 0
    assert len(stripe_http.calls) == 2
    assert [r[3] for r in reports(postpaid)] == ["sent", "sent"]


def test_partial_days_prepaid_accounts_and_customers_unknown_to_stripe_are_not_reported(
    stripe_http, postpaid, cluster, prepaid_account, teammate
):
    accept_events(stripe_http)
    usage(postpaid.user, cluster, date(2026, 11, 20), "5", status="partial")
    usage(postpaid.user, cluster, date(2026, 11, 21), "5", status="failed")
    usage(prepaid_account.user, cluster, date(2026, 11, 20), "5")  # the ledger bills it
    usage(teammate, cluster, date(2026, 11, 20), "5")  # no Stripe customer yet

    assert usage_sync_stripe(now=NOW).sent == 0
    assert len(stripe_http.calls) == 0
    assert MeterReport.objects.count() == 0


def test_the_rounding_remainder_carries_so_the_month_total_matches_the_measured_total(
    stripe_http, postpaid, cluster
):
    accept_events(stripe_http)
    for i in range(10):  # 0.4 cent a day: rounding each day alone would report nothing
        usage(postpaid.user, cluster, date(2026, 11, 1) + timedelta(days=i), "0.004")

    usage_sync_stripe(now=NOW)

    values = [int(b["payload[value]"]) for b in sent(stripe_http)]
    assert sum(values) == 4  # measured 4.0 cents
    assert all(v > 0 for v in values)


def test_two_clusters_on_one_day_are_one_event(stripe_http, postpaid, cluster):
    accept_events(stripe_http)
    other = ClusterFactory(name="c2")
    usage(postpaid.user, cluster, date(2026, 11, 20), "1.10")
    usage(postpaid.user, other, date(2026, 11, 20), "0.25")
    usage_sync_stripe(now=NOW)
    assert [b["payload[value]"] for b in sent(stripe_http)] == ["135"]


def test_a_429_in_the_middle_stops_the_run_and_the_next_run_sends_the_rest_once(
    stripe_http, postpaid, cluster
):
    for i in range(3):
        usage(postpaid.user, cluster, date(2026, 11, 20) + timedelta(days=i), "1")
    stripe_http.post(EVENTS, json=stripe_object("billing.meter_event"))
    stripe_http.post(EVENTS, status=429, json={"error": {"message": "Too many requests"}})

    result = usage_sync_stripe(now=NOW)

    assert (result.sent, result.failed) == (1, 1)
    assert "unavailable" in result.stopped.lower()
    assert reports(postpaid) == [
        (date(2026, 11, 20), 0, 100, "sent"),
        (date(2026, 11, 21), 0, 100, "failed"),
        (date(2026, 11, 22), 0, 100, "pending"),
    ]
    failed = MeterReport.objects.get(status="failed")
    assert failed.next_attempt_at == NOW + timedelta(minutes=15)
    assert failed.attempts == 1

    stripe_http.replace("POST", EVENTS, json=stripe_object("billing.meter_event"))
    too_soon = usage_sync_stripe(now=NOW + timedelta(minutes=5))  # backoff not over
    assert [r[3] for r in reports(postpaid)] == ["sent", "failed", "sent"]
    assert too_soon.sent == 1

    later = usage_sync_stripe(now=NOW + timedelta(hours=1))
    assert later.sent == 1
    assert [r[3] for r in reports(postpaid)] == ["sent", "sent", "sent"]
    identifiers = [b["identifier"] for b in sent(stripe_http)]
    assert len(identifiers) == len(set(identifiers)) == 3
    assert sum(int(b["payload[value]"]) for b in sent(stripe_http)) == 300


def test_a_refused_event_is_recorded_and_the_other_days_still_go(stripe_http, postpaid, cluster):
    usage(postpaid.user, cluster, date(2026, 11, 20), "1")
    usage(postpaid.user, cluster, date(2026, 11, 21), "2")
    stripe_http.post(EVENTS, status=400, json={"error": {"message": "No such customer"}})
    stripe_http.post(EVENTS, json=stripe_object("billing.meter_event"))
    result = usage_sync_stripe(now=NOW)
    assert (result.sent, result.failed, result.stopped) == (1, 1, "")
    assert "No such customer" in MeterReport.objects.get(status="failed").error


def test_a_higher_cost_after_recollection_sends_only_the_difference(stripe_http, postpaid, cluster):
    accept_events(stripe_http)
    usage(postpaid.user, cluster, date(2026, 11, 20), "1.00")
    usage_sync_stripe(now=NOW)
    usage(postpaid.user, cluster, date(2026, 11, 20), "1.50")
    usage_sync_stripe(now=NOW + timedelta(days=1))

    assert [b["payload[value]"] for b in sent(stripe_http)] == ["100", "50"]
    assert sent(stripe_http)[1]["identifier"] == f"hopsbill-{postpaid.pk}-20261120-r1"
    assert reports(postpaid) == [
        (date(2026, 11, 20), 0, 100, "sent"),
        (date(2026, 11, 20), 1, 50, "sent"),
    ]


def test_a_lower_cost_within_24_hours_cancels_the_event_and_resends_the_day(
    stripe_http, postpaid, cluster
):
    accept_events(stripe_http)
    cancel = stripe_http.post(CANCELS, json=stripe_object("billing.meter_event_adjustment"))
    usage(postpaid.user, cluster, date(2026, 11, 20), "1.50")
    usage_sync_stripe(now=NOW)
    usage(postpaid.user, cluster, date(2026, 11, 20), "1.00")
    result = usage_sync_stripe(now=NOW + timedelta(hours=2))

    assert result.canceled == 1
    body = dict(parse_qsl(cancel.calls[0].request.body))
    assert body == {
        "event_name": settings.STRIPE_METER_EVENT_NAME,
        "type": "cancel",
        "cancel[identifier]": f"hopsbill-{postpaid.pk}-20261120-r0",
    }
    assert reports(postpaid) == [
        (date(2026, 11, 20), 0, 150, "canceled"),
        (date(2026, 11, 20), 1, 100, "sent"),
    ]


def test_a_lower_cost_after_the_cancel_window_is_recorded_for_staff_once(
    stripe_http, postpaid, cluster
):
    accept_events(stripe_http)
    usage(postpaid.user, cluster, date(2026, 11, 20), "1.50")
    usage_sync_stripe(now=NOW)
    usage(postpaid.user, cluster, date(2026, 11, 20), "1.00")
    result = usage_sync_stripe(now=NOW + timedelta(days=2))
    usage_sync_stripe(now=NOW + timedelta(days=3))

    assert result.manual == 1
    assert len(stripe_http.calls) == 1
    assert reports(postpaid) == [
        (date(2026, 11, 20), 0, 150, "sent"),
        (date(2026, 11, 20), 1, -50, "manual"),
    ]
    assert "credit note" in MeterReport.objects.get(status="manual").error


def test_days_past_stripes_35_day_window_are_flagged_stale_not_sent(stripe_http, postpaid, cluster):
    accept_events(stripe_http)
    usage(postpaid.user, cluster, date(2026, 10, 15), "3")
    usage(postpaid.user, cluster, date(2026, 11, 20), "1")
    result = usage_sync_stripe(now=NOW)
    assert (result.sent, result.stale) == (1, 1)
    assert reports(postpaid)[0] == (date(2026, 10, 15), 0, 300, "stale")
    assert "35-day" in MeterReport.objects.get(status="stale").error
    assert usage_sync_stripe(now=NOW).stale == 0  # flagged once


def test_a_single_day_can_be_synced_on_its_own(stripe_http, postpaid, cluster):
    accept_events(stripe_http)
    usage(postpaid.user, cluster, date(2026, 11, 20), "1")
    usage(postpaid.user, cluster, date(2026, 11, 21), "2")
    usage_sync_stripe(day=date(2026, 11, 21), now=NOW)
    assert reports(postpaid) == [(date(2026, 11, 21), 0, 200, "pending")[:3] + ("sent",)]


def test_the_event_timestamp_is_the_days_noon_in_the_billing_time_zone(settings):
    settings.BILLING_TIME_ZONE = "Europe/Stockholm"
    assert day_noon(date(2026, 11, 20)) == datetime(2026, 11, 20, 11, tzinfo=UTC)


def test_without_stripe_configured_the_sync_says_so(stripe_env):
    stripe_env.STRIPE_SECRET_KEY = ""
    with pytest.raises(gateway.StripeNotConfigured):
        usage_sync_stripe(now=NOW)
