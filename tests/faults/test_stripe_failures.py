"""Stripe answering 500, 429 or not answering at all: usage reports wait and go once; a credit
purchase is answered 503, kept as failed, and charges nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
import requests

from billing.models import CreditPurchase, MeterReport
from billing.payments.stripe_sync import usage_sync_stripe
from clusters.models import Cluster
from tests.stripe_fakes import API, stripe_object
from usage.models import UsageDay

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
EVENTS = f"{API}/v1/billing/meter_events"
FAULTS = {
    "500": {"status": 500, "json": {"error": {"message": "Internal error"}}},
    "429": {"status": 429, "json": {"error": {"message": "Too many requests"}}},
    "timeout": {"body": requests.exceptions.ReadTimeout("read timed out")},
}


@pytest.mark.parametrize("fault", FAULTS)
def test_usage_days_wait_out_a_stripe_fault_and_are_reported_once(stripe_http, owner, fault):
    account = owner.billing_account
    account.stripe_customer_id = "cus_fault"
    account.save()
    cluster = Cluster.objects.create(name="c1", hopsworks_url="https://c1.test/api")
    for i in range(3):
        UsageDay.objects.create(
            user=owner, cluster=cluster, date=date(2026, 11, 20) + timedelta(days=i),
            status="complete", cost=Decimal("2"),
        )
    stripe_http.post(EVENTS, **FAULTS[fault])

    first = usage_sync_stripe(now=NOW)
    assert first.sent == 0 and first.stopped
    assert set(MeterReport.objects.values_list("status", flat=True)) <= {"failed", "pending"}

    stripe_http.replace("POST", EVENTS, json=stripe_object("billing.meter_event"))
    usage_sync_stripe(now=NOW + timedelta(hours=1))
    usage_sync_stripe(now=NOW + timedelta(hours=2))  # a rerun sends nothing more

    assert list(MeterReport.objects.values_list("status", flat=True)) == ["sent"] * 3
    delivered = [
        dict(parse_qsl(c.request.body)) for c in stripe_http.calls
        if getattr(c.response, "status_code", None) == 200
    ]
    identifiers = [body["identifier"] for body in delivered]
    assert len(identifiers) == len(set(identifiers)) == 3
    assert sum(int(body["payload[value]"]) for body in delivered) == 600


@pytest.mark.parametrize("fault", FAULTS)
def test_a_credit_purchase_during_a_stripe_fault_is_503_and_kept_as_failed(
    client, stripe_http, owner, prepaid_account, fault
):
    stripe_http.post(f"{API}/v1/checkout/sessions", **FAULTS[fault])
    client.force_login(owner)
    response = client.post(
        "/api/billing/purchase-credits", {"amount": 2500}, content_type="application/json"
    )
    assert response.status_code == 503
    assert list(CreditPurchase.objects.values_list("status", flat=True)) == ["failed"]
    prepaid_account.refresh_from_db()
    assert prepaid_account.balance_cents == 0
