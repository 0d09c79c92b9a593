"""charge.refunded and charge.dispute.*: credits go with the money, once per Stripe id, in any
order; postpaid invoice reversals are recorded and leave the ledger alone."""

from __future__ import annotations

import time

import pytest

from billing.ledger import credits_deduct_usage
from billing.ledger.postings import credits_record_payment
from billing.models import (
    AccountStatus,
    AutoTopUpCharge,
    BillingAccount,
    ChargeReversal,
    CreditPurchase,
    CreditTransaction,
)
from tests.stripe_fakes import (
    API,
    checkout_session,
    post_event,
    stripe_event,
    stripe_list,
    stripe_object,
)
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db

CUSTOMER = "cus_refunds_1"
CHARGE = "ch_credits_1"
INTENT = "pi_credits_1"
SESSION = "cs_credits_1"


@pytest.fixture
def account(prepaid_account):
    prepaid_account.stripe_customer_id = CUSTOMER
    prepaid_account.save(update_fields=["stripe_customer_id"])
    CreditPurchase.objects.create(
        account=prepaid_account,
        amount_cents=2500,
        stripe_session_id=SESSION,
        status=CreditPurchase.Status.OPEN,
    )
    return prepaid_account


def _session(account, **overrides):
    metadata = {"hopsbill_account_id": str(account.pk), "hopsbill_purchase_id": "1"}
    return checkout_session(
        SESSION, account.pk, payment_intent=INTENT, metadata=metadata, **overrides
    )


def stripe_knows(stripe_http, account, *, refunds=(), purchase=True, charge=CHARGE):
    """Stripe's answers: the charge, its refunds, the Checkout Session of its PaymentIntent."""
    stripe_http.get(
        f"{API}/v1/charges/{charge}",
        json=stripe_object(
            "charge", id=charge, customer=CUSTOMER, payment_intent=INTENT, amount=2500
        ),
    )
    stripe_http.get(
        f"{API}/v1/refunds",
        json=refunds_page(refunds, charge=charge),
    )
    sessions = [_session(account)] if purchase else []
    stripe_http.get(
        f"{API}/v1/checkout/sessions",
        json=stripe_list(sessions, url="/v1/checkout/sessions"),
    )
    stripe_http.get(f"{API}/v1/checkout/sessions/{SESSION}", json=_session(account))


def refunds_page(refunds: list[tuple[str, int]], charge: str = CHARGE) -> dict:
    """Stripe's list of a charge's refunds: (refund id, amount in cents), newest first."""
    return stripe_list(
        [
            stripe_object("refund", id=rid, charge=charge, amount=amount, status="succeeded")
            for rid, amount in refunds
        ],
        url="/v1/refunds",
    )


def refunded(event_id: str, amount_refunded: int, charge=CHARGE):
    charge_obj = stripe_object(
        "charge",
        id=charge,
        customer=CUSTOMER,
        payment_intent=INTENT,
        amount=2500,
        amount_refunded=amount_refunded,
        refunded=amount_refunded == 2500,
    )
    return stripe_event("charge.refunded", charge_obj, event_id=event_id)


def dispute_event(kind: str, event_id: str, status: str, amount: int = 2500):
    dispute = stripe_object("dispute", id="dp_1", charge=CHARGE, amount=amount, status=status)
    return stripe_event(kind, dispute, event_id=event_id, created=int(time.time()))


def completed(account):
    return stripe_event(
        "checkout.session.completed", _session(account), event_id="evt_checkout_done"
    )


def postings(account) -> list[tuple[str, int]]:
    rows = CreditTransaction.objects.filter(account=account).order_by("id")
    return [(tx.kind, tx.amount_cents) for tx in rows]


def balance(account) -> int:
    return BillingAccount.objects.get(pk=account.pk).balance_cents


def test_a_refund_delivered_three_times_debits_once(client, stripe_http, account):
    stripe_knows(stripe_http, account, refunds=[("re_1", 1000)])
    assert post_event(client, completed(account)).status_code == 200

    answers = [post_event(client, refunded("evt_refund_1", 1000)).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    assert postings(account) == [("purchase", 2500), ("refund", -1000)]
    assert balance(account) == 1500
    reversal = ChargeReversal.objects.get()
    assert (reversal.kind, reversal.target, reversal.amount_cents) == ("refund", "credits", 1000)


def test_a_refund_before_its_checkout_completion_ends_with_the_same_balance(
    client, stripe_http, account
):
    stripe_knows(stripe_http, account, refunds=[("re_1", 1000)])

    assert post_event(client, refunded("evt_refund_1", 1000)).status_code == 200
    assert balance(account) == -1000
    assert BillingAccount.objects.get(pk=account.pk).status == AccountStatus.IN_ARREARS

    assert post_event(client, completed(account)).status_code == 200
    assert post_event(client, refunded("evt_refund_1", 1000)).status_code == 200

    assert sorted(postings(account)) == [("purchase", 2500), ("refund", -1000)]
    assert balance(account) == 1500
    assert BillingAccount.objects.get(pk=account.pk).status == AccountStatus.ACTIVE


def test_a_refunded_auto_top_up_takes_its_credits_back_once(client, stripe_http, account):
    AutoTopUpCharge.objects.create(
        account=account,
        crossing="1000:after-tx:0",
        threshold_cents=1000,
        amount_cents=2500,
        balance_cents=900,
        status=AutoTopUpCharge.Status.SUCCEEDED,
        stripe_payment_intent_id=INTENT,
    )
    credits_record_payment(account=account, amount_cents=2500, stripe_payment_intent_id=INTENT)
    stripe_knows(stripe_http, account, refunds=[("re_topup", 1000)], purchase=False)

    assert post_event(client, refunded("evt_topup_refund", 1000)).status_code == 200
    assert post_event(client, refunded("evt_topup_refund", 1000)).status_code == 200

    assert postings(account) == [("purchase", 2500), ("refund", -1000)]
    assert balance(account) == 1500


def test_a_second_partial_refund_debits_only_the_new_refund(client, stripe_http, account):
    stripe_knows(stripe_http, account, refunds=[("re_1", 1000)])
    post_event(client, completed(account))
    post_event(client, refunded("evt_refund_1", 1000))

    stripe_http.replace(
        "GET",
        f"{API}/v1/refunds",
        json=refunds_page([("re_2", 500), ("re_1", 1000)]),
    )
    assert post_event(client, refunded("evt_refund_2", 1500)).status_code == 200

    assert postings(account) == [("purchase", 2500), ("refund", -1000), ("refund", -500)]
    assert balance(account) == 1000


def test_a_lost_dispute_keeps_the_credits_debited_and_flags_the_account(
    client, stripe_http, account
):
    stripe_knows(stripe_http, account)
    post_event(client, completed(account))

    opened = dispute_event("charge.dispute.created", "evt_dp_open", "needs_response")
    assert post_event(client, opened).status_code == 200
    assert post_event(client, opened).status_code == 200
    assert balance(account) == 0
    assert "dp_1" in BillingAccount.objects.get(pk=account.pk).staff_flag

    closed = dispute_event("charge.dispute.closed", "evt_dp_closed", "lost")
    assert post_event(client, closed).status_code == 200

    assert postings(account) == [("purchase", 2500), ("dispute", -2500)]
    assert ChargeReversal.objects.get().status == "lost"
    assert "lost" in BillingAccount.objects.get(pk=account.pk).staff_flag


def test_a_won_dispute_gives_the_credits_back_once(client, stripe_http, account):
    stripe_knows(stripe_http, account)
    post_event(client, completed(account))
    post_event(client, dispute_event("charge.dispute.created", "evt_dp_open", "needs_response"))

    won = dispute_event("charge.dispute.closed", "evt_dp_won", "won")
    assert post_event(client, won).status_code == 200
    assert post_event(client, won).status_code == 200

    assert postings(account) == [("purchase", 2500), ("dispute", -2500), ("dispute_won", 2500)]
    assert balance(account) == 2500
    assert BillingAccount.objects.get(pk=account.pk).staff_flag == ""


def test_a_dispute_larger_than_the_credits_left_makes_the_balance_negative(
    client, stripe_http, account
):
    stripe_knows(stripe_http, account)
    post_event(client, completed(account))
    credits_deduct_usage(account=account, usage_ref="usage_day:1", cost_cents=2000)

    opened = dispute_event("charge.dispute.created", "evt_dp_open", "needs_response")
    assert post_event(client, opened).status_code == 200

    assert balance(account) == -2000
    assert BillingAccount.objects.get(pk=account.pk).status == AccountStatus.IN_ARREARS


def test_a_refund_of_a_postpaid_invoice_is_recorded_and_leaves_the_ledger_alone(
    client, stripe_http, account
):
    BillingAccount.objects.filter(pk=account.pk).update(mode="postpaid")
    stripe_knows(stripe_http, account, refunds=[("re_inv", 700)], purchase=False)

    assert post_event(client, refunded("evt_refund_inv", 700)).status_code == 200
    assert post_event(client, refunded("evt_refund_inv", 700)).status_code == 200

    reversal = ChargeReversal.objects.get()
    assert (reversal.target, reversal.amount_cents) == ("invoice", 700)
    assert postings(account) == []


def test_events_for_charges_of_unknown_customers_are_refused_without_writes(
    client, stripe_http, account
):
    stripe_http.get(
        f"{API}/v1/charges/ch_other",
        json=stripe_object("charge", id="ch_other", customer="cus_stranger"),
    )
    other = stripe_object("charge", id="ch_other", customer="cus_stranger", amount_refunded=5)
    dispute = stripe_object("dispute", id="dp_other", charge="ch_other", amount=5)

    refused = [
        post_event(client, stripe_event("charge.refunded", other, event_id="evt_r")),
        post_event(client, stripe_event("charge.dispute.created", dispute, event_id="evt_d")),
    ]

    assert [r.status_code for r in refused] == [400, 400]
    assert not WebhookEvent.objects.exists() and not ChargeReversal.objects.exists()
    assert postings(account) == []


@pytest.mark.parametrize(
    "event",
    [
        refunded("evt_refund_prepared", 1000),
        dispute_event("charge.dispute.created", "evt_dp", "needs_response"),
    ],
    ids=["refund", "dispute"],
)
def test_the_handlers_stripe_reads_are_made_before_the_transaction(
    client, stripe_http, account, event
):
    from billing.payments.events import stripe_event_handle, stripe_event_prepare

    stripe_knows(stripe_http, account, refunds=[("re_1", 1000)])
    prepared = stripe_event_prepare(event)
    asked = len(stripe_http.calls)
    assert asked >= 2  # the charge or its refunds, and its Checkout Session

    stripe_event_handle(event, prepared)  # in the event's transaction: from what was read

    assert len(stripe_http.calls) == asked
    assert ChargeReversal.objects.get().amount_cents in (1000, 2500)
