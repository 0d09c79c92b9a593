"""Two (or more) deliveries of one event at the same moment, on real PostgreSQL: one grant."""

from __future__ import annotations

import pytest
from django.test import Client

from billing.models import BillingAccount, CreditPurchase, CreditTransaction
from tests.concurrency import run_at_once
from tests.stripe_fakes import (
    API,
    checkout_session,
    post_event,
    stripe_event,
)
from webhooks.models import WebhookEvent

THREADS = 8


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_event_and_its_sibling_grant_once(
    stripe_http, prepaid_account
):
    session_id = "cs_test_race"
    CreditPurchase.objects.create(
        account=prepaid_account,
        amount_cents=4200,
        stripe_session_id=session_id,
        status=CreditPurchase.Status.OPEN,
    )
    stripe_http.get(
        f"{API}/v1/checkout/sessions/{session_id}",
        json=checkout_session(session_id, prepaid_account.pk, amount_total=4200),
    )
    session = checkout_session(session_id, prepaid_account.pk, amount_total=4200)
    completed = stripe_event("checkout.session.completed", session, event_id="evt_race")
    succeeded = stripe_event(
        "checkout.session.async_payment_succeeded", session, event_id="evt_race_async"
    )

    def deliver(i):
        # Most threads deliver the same event; two deliver its async sibling.
        return post_event(Client(), succeeded if i % 4 == 3 else completed).status_code

    results, errors = run_at_once(deliver, THREADS)

    assert errors == []
    assert results == [200] * THREADS
    grants = CreditTransaction.objects.filter(account=prepaid_account, kind="purchase")
    assert [tx.amount_cents for tx in grants] == [4200]
    assert BillingAccount.objects.get(pk=prepaid_account.pk).balance_cents == 4200
    assert WebhookEvent.objects.count() == 2
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert CreditPurchase.objects.get().status == CreditPurchase.Status.PAID
