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


ROUNDS = 50


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("start", "older", "newer", "latest_state"),
    [
        # The race: an older invoice.paid against a newer past_due update.
        ("active", ("invoice.paid", None), ("customer.subscription.updated", "past_due"),
         "in_arrears"),
        # And the reverse: an older past_due update against a newer invoice.paid.
        ("in_arrears", ("customer.subscription.updated", "past_due"), ("invoice.paid", None),
         "active"),
    ],
)
def test_an_older_status_event_delivered_at_the_same_moment_never_wins(
    stripe_env, owner, start, older, newer, latest_state
):
    from billing.ledger import billing_account_ensure
    from tests.stripe_fakes import stripe_object

    account = billing_account_ensure(user=owner)
    customer = "cus_QXg1o8vcGmoR32"
    BillingAccount.objects.filter(pk=account.pk).update(stripe_customer_id=customer)

    def event(kind_state, event_id, created):
        kind, state = kind_state
        if kind == "invoice.paid":
            obj = stripe_object("invoice", customer=customer, number="HB-0001")
        else:
            obj = stripe_object("subscription", customer=customer, status=state)
        return stripe_event(kind, obj, event_id=event_id, created=created)

    finals = []
    for n in range(ROUNDS):
        BillingAccount.objects.filter(pk=account.pk).update(
            status=start, status_event_created=None, status_event_id=""
        )
        created = 1_700_000_000 + n * 100
        pair = [event(older, f"evt_old_{n}", created), event(newer, f"evt_new_{n}", created + 10)]
        results, errors = run_at_once(
            lambda i, pair=pair: post_event(Client(), pair[i]).status_code, 2
        )
        assert errors == [] and results == [200, 200]
        finals.append(BillingAccount.objects.get(pk=account.pk).status)

    assert finals == [latest_state] * ROUNDS
    stored = BillingAccount.objects.get(pk=account.pk)
    assert stored.status_event_id == f"evt_new_{ROUNDS - 1}"
    assert WebhookEvent.objects.filter(status="processed").count() == 2 * ROUNDS
