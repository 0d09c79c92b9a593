"""The Stripe doors: setup_stripe, sync_stripe_usage, replay_stripe_events, the cron endpoint,
and reconcile_stripe with and without planted discrepancies."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO
from urllib.parse import parse_qsl

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.ledger import credits_record_purchase
from billing.models import BillingAccount, CreditPurchase, MeterReport
from billing.payments.reconcile import stripe_reconcile
from clusters.models import Cluster
from tests.stripe_fakes import API, checkout_session, stripe_list, stripe_object
from usage.models import UsageDay
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


def listing(items: list[dict], url: str) -> dict:
    return stripe_list(items, url=url)


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# --- setup_stripe -------------------------------------------------------------------------


def test_setup_stripe_creates_the_catalogue_once_and_then_finds_it(stripe_http):
    search = stripe_http.get(f"{API}/v1/products/search", json=listing([], "/v1/products/search"))
    stripe_http.get(f"{API}/v1/billing/meters", json=listing([], "/v1/billing/meters"))
    stripe_http.get(f"{API}/v1/prices", json=listing([], "/v1/prices"))
    product = stripe_http.post(f"{API}/v1/products", json=stripe_object("product", id="prod_u"))
    meter = stripe_http.post(
        f"{API}/v1/billing/meters", json=stripe_object("billing.meter", id="mtr_1")
    )
    price = stripe_http.post(f"{API}/v1/prices", json=stripe_object("price", id="price_m"))
    portals = f"{API}/v1/billing_portal/configurations"
    stripe_http.get(portals, json=listing([], "/v1/billing_portal/configurations"))
    portal = stripe_http.post(
        portals, json=stripe_object("billing_portal.configuration", id="bpc_1")
    )

    output = run("setup_stripe")

    assert "meter mtr_1" in output and "customer portal configuration bpc_1" in output
    portal_body = dict(parse_qsl(portal.calls[0].request.body))
    assert portal_body["features[payment_method_update][enabled]"] == "true"
    assert portal_body["features[invoice_history][enabled]"] == "true"
    assert portal_body["features[subscription_update][enabled]"] == "false"
    assert portal_body["default_return_url"].endswith("/billing/")
    assert len(product.calls) == 2  # usage and credits products
    meter_body = dict(parse_qsl(meter.calls[0].request.body))
    assert meter_body["event_name"] == settings.STRIPE_METER_EVENT_NAME
    assert meter_body["default_aggregation[formula]"] == "sum"
    assert meter_body["customer_mapping[event_payload_key]"] == "stripe_customer_id"
    price_body = dict(parse_qsl(price.calls[0].request.body))
    assert price_body["lookup_key"] == "hopsbill_usage_cents"
    assert price_body["unit_amount_decimal"] == "1"
    assert price_body["recurring[usage_type]"] == "metered"
    assert price_body["recurring[meter]"] == "mtr_1"

    stripe_http.replace(
        "GET",
        f"{API}/v1/products/search",
        json=listing([stripe_object("product", id="prod_u")], "/v1/products/search"),
    )
    found_meter = stripe_object(
        "billing.meter", id="mtr_1", event_name=settings.STRIPE_METER_EVENT_NAME
    )
    stripe_http.replace(
        "GET", f"{API}/v1/billing/meters", json=listing([found_meter], "/v1/billing/meters")
    )
    stripe_http.replace(
        "GET",
        f"{API}/v1/prices",
        json=listing([stripe_object("price", id="price_m")], "/v1/prices"),
    )
    ours = stripe_object(
        "billing_portal.configuration", id="bpc_1", metadata={"hopsbill_key": "hopsbill_portal"}
    )
    stripe_http.replace("GET", portals, json=listing([ours], "/v1/billing_portal/configurations"))
    update = stripe_http.post(f"{portals}/bpc_1", json=ours)
    run("setup_stripe")
    assert (len(product.calls), len(meter.calls), len(price.calls)) == (2, 1, 1)
    assert (len(portal.calls), len(update.calls)) == (1, 1)
    assert len(search.calls) == 2


def test_setup_stripe_without_a_key_fails_clearly(stripe_env):
    stripe_env.STRIPE_SECRET_KEY = ""
    with pytest.raises(CommandError, match="not configured"):
        run("setup_stripe")


# --- sync doors ---------------------------------------------------------------------------


def test_sync_stripe_usage_command_reports_a_day(today, stripe_http, owner):
    account = owner.billing_account
    account.stripe_customer_id = "cus_cmd"
    account.save()
    cluster = Cluster.objects.create(name="c1", hopsworks_url="https://c1.test/api")
    day = today.replace(day=1)
    UsageDay.objects.create(
        user=owner, cluster=cluster, date=day, status="complete", cost=Decimal("2.00")
    )
    stripe_http.post(f"{API}/v1/billing/meter_events", json=stripe_object("billing.meter_event"))
    assert "sent 1" in run("sync_stripe_usage", "--date", day.isoformat())
    assert "sent 0" in run("sync_stripe_usage", "--date", day.isoformat())
    assert MeterReport.objects.get().value == 200


def test_the_beat_schedule_runs_the_sync_at_three_with_an_expiry():
    entry = settings.CELERY_BEAT_SCHEDULE["sync-stripe-usage"]
    assert entry["task"] == "billing.tasks.sync_stripe_usage"
    assert entry["schedule"].hour == {3} and entry["schedule"].minute == {0}
    assert entry["options"]["expires"] > 0


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic dev-cron-secret", "Bearer "])
def test_the_cron_door_refuses_without_the_secret(client, settings, header):
    settings.CRON_SECRET = "dev-cron-secret"
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    assert client.post("/api/billing/sync-stripe", **extra).status_code == 401


def test_the_cron_door_is_closed_when_no_secret_is_configured(client, settings):
    settings.CRON_SECRET = ""
    response = client.post("/api/billing/sync-stripe", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 503


def test_the_cron_door_queues_the_sync(client, settings, broker_queue):
    settings.CRON_SECRET = "dev-cron-secret"
    response = client.post("/api/billing/sync-stripe", HTTP_AUTHORIZATION="Bearer dev-cron-secret")
    assert response.status_code == 202
    assert response.json()["task_id"]
    assert [m.task for m in broker_queue.messages()] == ["billing.tasks.sync_stripe_usage"]


def test_the_cron_door_answers_503_when_the_broker_is_down(client, settings, broker_down):
    settings.CRON_SECRET = "dev-cron-secret"
    response = client.post("/api/billing/sync-stripe", HTTP_AUTHORIZATION="Bearer dev-cron-secret")
    assert response.status_code == 503
    assert "Nothing was queued" in response.json()["detail"]


def test_replay_stripe_events_command_reprocesses_failed_events(stripe_http, prepaid_account):
    CreditPurchase.objects.create(
        account=prepaid_account, amount_cents=900, stripe_session_id="cs_r", status="open"
    )
    session = checkout_session("cs_r", prepaid_account.pk, amount_total=900)
    event = stripe_object(
        "event", id="evt_r", type="checkout.session.completed", data={"object": session}
    )
    WebhookEvent.objects.create(
        source="stripe",
        external_id="evt_r",
        event_type=event["type"],
        payload=event,
        status="failed",
        error="StripeUnavailable: earlier",
        attempts=1,
    )
    stripe_http.get(f"{API}/v1/checkout/sessions/cs_r", json=session)
    output = run("replay_stripe_events", "--failed")
    assert "evt_r checkout.session.completed: processed" in output
    assert BillingAccount.objects.get(pk=prepaid_account.pk).balance_cents == 900


# --- reconciliation -----------------------------------------------------------------------

MONTH = date(2026, 10, 1)
IN_MONTH = int(datetime(2026, 10, 10, 9, tzinfo=UTC).timestamp())


@pytest.fixture
def books(stripe_http, prepaid_account, owner, teammate):
    """Consistent books for October 2026: one paid purchase, one postpaid account's usage."""
    session = checkout_session("cs_oct", prepaid_account.pk, amount_total=3000, created=IN_MONTH)
    tx = credits_record_purchase(
        account=prepaid_account, amount_cents=3000, stripe_session_id="cs_oct"
    )
    assert tx.amount_cents == 3000
    postpaid = BillingAccount.objects.get(user=teammate)
    postpaid.stripe_customer_id = "cus_rec"
    postpaid.save()
    cluster = Cluster.objects.create(name="c1", hopsworks_url="https://c1.test/api")
    UsageDay.objects.create(
        user=teammate,
        cluster=cluster,
        date=date(2026, 10, 5),
        status="complete",
        cost=Decimal("12.345"),
    )
    MeterReport.objects.create(
        account=postpaid,
        usage_date=date(2026, 10, 5),
        revision=0,
        identifier="hb-x-r0",
        event_name=settings.STRIPE_METER_EVENT_NAME,
        value=1235,
        timestamp=datetime(2026, 10, 5, 12, tzinfo=UTC),
        status="sent",
    )
    stripe_http.get(f"{API}/v1/checkout/sessions", json=listing([session], "/v1/checkout/sessions"))
    meter = stripe_object("billing.meter", id="mtr_1", event_name=settings.STRIPE_METER_EVENT_NAME)
    stripe_http.get(f"{API}/v1/billing/meters", json=listing([meter], "/v1/billing/meters"))
    # Stripe's side of the meter: {event timestamp: value}; summaries sum a queried window.
    stripe_meter = {int(datetime(2026, 10, 5, 12, tzinfo=UTC).timestamp()): 1235}

    def summaries(request):
        query = dict(parse_qsl(request.url.split("?", 1)[1]))
        start, end = int(query["start_time"]), int(query["end_time"])
        total = sum(v for t, v in stripe_meter.items() if start <= t < end)
        summary = stripe_object("billing.meter_event_summary", aggregated_value=total)
        return 200, {}, json.dumps(listing([summary], "/v1/billing/meters/mtr_1/event_summaries"))

    stripe_http.add_callback(
        "GET", f"{API}/v1/billing/meters/mtr_1/event_summaries", callback=summaries
    )
    return {"session": session, "postpaid": postpaid, "stripe_meter": stripe_meter}


def test_consistent_books_reconcile_without_discrepancy(today, books, stripe_http):
    month = today.replace(day=1)
    # Purchases are compared for the month the ledger row was written (today's month)...
    stripe_http.replace(
        "GET",
        f"{API}/v1/checkout/sessions",
        json=listing(
            [{**books["session"], "created": int(datetime.now(UTC).timestamp())}],
            "/v1/checkout/sessions",
        ),
    )
    assert [d.kind for d in stripe_reconcile(month=month)] == []
    # ...and usage for October, where the usage day and its meter event are.
    stripe_http.replace(
        "GET", f"{API}/v1/checkout/sessions", json=listing([], "/v1/checkout/sessions")
    )
    assert stripe_reconcile(month=MONTH) == []
    assert "0 discrepancy" in run("reconcile_stripe", "--month", "2026-10")


def test_reconciliation_prints_each_planted_discrepancy(today, books, stripe_http, prepaid_account):
    month = today.replace(day=1)
    now = int(datetime.now(UTC).timestamp())
    unpaid_grant = {**books["session"], "created": now, "payment_status": "unpaid"}
    never_granted = checkout_session("cs_lost", prepaid_account.pk, amount_total=700, created=now)
    stripe_http.replace(
        "GET",
        f"{API}/v1/checkout/sessions",
        json=listing([unpaid_grant, never_granted], "/v1/checkout/sessions"),
    )
    kinds = sorted(d.kind for d in stripe_reconcile(month=month))
    assert kinds == ["granted_without_paid_session", "paid_session_not_granted"]

    stripe_http.replace(
        "GET", f"{API}/v1/checkout/sessions", json=listing([], "/v1/checkout/sessions")
    )
    books["stripe_meter"][int(datetime(2026, 10, 5, 12, tzinfo=UTC).timestamp())] = 1000
    UsageDay.objects.create(
        user=books["postpaid"].user,
        cluster=Cluster.objects.get(),
        date=date(2026, 10, 6),
        status="complete",
        cost=Decimal("1.00"),
    )
    found = stripe_reconcile(month=MONTH)
    assert sorted(d.kind for d in found) == ["meter_total_mismatch", "usage_not_reported"]
    by_kind = {d.kind: d for d in found}
    assert (by_kind["meter_total_mismatch"].ours, by_kind["meter_total_mismatch"].stripe) == (
        1235,
        1000,
    )
    assert (by_kind["usage_not_reported"].ours, by_kind["usage_not_reported"].stripe) == (
        1335,
        1235,
    )
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("reconcile_stripe", "--month", "2026-10", stdout=out)
    assert "meter_total_mismatch" in out.getvalue()
    assert "usage_not_reported" in out.getvalue()
