"""Overlapping sync runs (cron door + beat + an operator) on real PostgreSQL: each day once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest

from billing.models import MeterReport
from billing.payments.stripe_sync import usage_sync_stripe
from tests.concurrency import run_at_once
from tests.factories import UsageDayFactory
from tests.stripe_fakes import API, stripe_object

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_runs_at_the_same_moment_report_each_day_once(stripe_http, owner):
    account = owner.billing_account
    account.stripe_customer_id = "cus_race"
    account.save()
    for i in range(5):
        day = date(2026, 11, 18) + timedelta(days=i)
        UsageDayFactory(user=owner, date=day, cost=Decimal("1.25"))
    events = stripe_http.post(
        f"{API}/v1/billing/meter_events", json=stripe_object("billing.meter_event")
    )
    _, errors = run_at_once(lambda _: usage_sync_stripe(now=NOW), 4)
    assert errors == []
    identifiers = [dict(parse_qsl(c.request.body))["identifier"] for c in events.calls]
    assert len(identifiers) == len(set(identifiers)) == 5
    assert MeterReport.objects.filter(status="sent").count() == 5
    assert MeterReport.objects.count() == 5
