"""GET/POST /api/admin/billing: staff only; list, prepaid switch, grants with a reason."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from billing.models import BillingModeChange, CreditTransaction


def post(client, data):
    return client.post("/api/admin/billing", json.dumps(data), content_type="application/json")


def test_anonymous_and_non_staff_get_403(client, owner, outsider):
    assert client.get("/api/admin/billing").status_code == 403
    client.force_login(outsider)
    assert client.get("/api/admin/billing").status_code == 403
    account = owner.billing_account
    response = post(client, {"account_id": account.pk, "action": "prepaid_enable"})
    assert response.status_code == 403
    account.refresh_from_db()
    assert account.mode == "postpaid"


def test_staff_lists_accounts_with_mode_and_balance(client, staff, owner, prepaid_account):
    client.force_login(staff)
    response = client.get("/api/admin/billing")
    assert response.status_code == 200
    rows = {r["email"]: r for r in response.json()["results"]}
    assert rows["owner@example.com"]["mode"] == "prepaid"
    assert rows["owner@example.com"]["balance_cents"] == 0
    assert rows["staff@example.com"]["mode"] == "postpaid"


def test_staff_searches_and_filters(client, staff, owner, outsider, prepaid_account):
    client.force_login(staff)
    found = client.get("/api/admin/billing?search=outsider").json()["results"]
    assert [r["email"] for r in found] == ["outsider@example.com"]
    prepaid = client.get("/api/admin/billing?mode=prepaid").json()["results"]
    assert [r["email"] for r in prepaid] == ["owner@example.com"]
    bad = client.get("/api/admin/billing?mode=free")
    assert bad.status_code == 400 and "mode" in bad.json()


def test_staff_enables_and_disables_prepaid(client, staff, owner):
    client.force_login(staff)
    account = owner.billing_account
    response = post(
        client, {"account_id": account.pk, "action": "prepaid_enable", "reason": "asked"}
    )
    assert response.status_code == 200
    assert response.json()["account"]["mode"] == "prepaid"
    change = BillingModeChange.objects.get()
    assert change.changed_by == staff and change.reason == "asked"
    response = post(client, {"account_id": account.pk, "action": "prepaid_disable"})
    assert response.json()["account"]["mode"] == "postpaid"


@override_settings(PREPAID_FEATURE_ENABLED=False)
def test_enable_refused_when_prepaid_is_switched_off(client, staff, owner):
    client.force_login(staff)
    response = post(client, {"account_id": owner.billing_account.pk, "action": "prepaid_enable"})
    assert response.status_code == 409
    assert "switched off" in response.json()["detail"]


def test_staff_grants_credits_once_per_key(client, staff, owner, prepaid_account):
    client.force_login(staff)
    body = {
        "account_id": prepaid_account.pk,
        "action": "credits_grant",
        "amount_cents": 15_00,
        "reason": "Outage compensation",
        "idempotency_key": "ticket-123",
    }
    first = post(client, body)
    assert first.status_code == 201
    assert first.json()["account"]["balance_cents"] == 15_00
    again = post(client, body)
    assert again.json()["account"]["balance_cents"] == 15_00
    tx = CreditTransaction.objects.get()
    assert tx.reason == "Outage compensation" and tx.created_by == staff
    conflict = post(client, {**body, "amount_cents": 20_00})
    assert conflict.status_code == 409


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"amount_cents": None}, "amount_cents"),
        ({"amount_cents": 0}, "amount_cents"),
        ({"amount_cents": "ten"}, "amount_cents"),
        ({"amount_cents": 10**12}, "amount_cents"),
        ({"reason": "  "}, "reason"),
        ({"idempotency_key": None}, "idempotency_key"),
        ({"account_id": 999999}, "account_id"),
        ({"action": "delete_everything"}, "action"),
    ],
)
def test_bad_grant_is_400_naming_the_field_and_writes_nothing(
    client, staff, prepaid_account, patch, field
):
    client.force_login(staff)
    body = {
        "account_id": prepaid_account.pk,
        "action": "credits_grant",
        "amount_cents": 15_00,
        "reason": "r",
        "idempotency_key": "k",
    }
    body.update(patch)
    body = {k: v for k, v in body.items() if v is not None}
    response = post(client, body)
    assert response.status_code == 400
    assert field in response.json()
    assert CreditTransaction.objects.count() == 0


def test_post_needs_csrf_for_session_clients(staff, prepaid_account):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(staff)
    response = post(csrf_client, {"account_id": prepaid_account.pk, "action": "prepaid_disable"})
    assert response.status_code == 403


def post_action(client, action, data):
    url = f"/api/admin/billing/{action}"
    return client.post(url, json.dumps(data), content_type="application/json")


def test_each_action_has_its_own_door_answering_like_the_old_one(
    client, staff, owner, prepaid_account
):
    client.force_login(staff)
    account = owner.billing_account
    enabled = post_action(client, "prepaid-enable", {"account_id": account.pk, "reason": "asked"})
    assert enabled.status_code == 200 and enabled.json()["account"]["mode"] == "prepaid"
    disabled = post_action(client, "prepaid-disable", {"account_id": account.pk})
    assert disabled.status_code == 200 and disabled.json()["account"]["mode"] == "postpaid"
    grant = {
        "account_id": prepaid_account.pk,
        "amount_cents": 15_00,
        "reason": "Outage compensation",
        "idempotency_key": "ticket-9",
    }
    assert post_action(client, "credits-grant", grant).status_code == 201
    # The same request key through the old door is the same grant.
    old = post(client, {**grant, "action": "credits_grant"})
    assert old.json()["transaction_id"] == CreditTransaction.objects.get().pk
    assert post_action(client, "credits-grant", {**grant, "amount_cents": 1}).status_code == 409


def test_action_doors_refuse_outsiders_and_name_bad_fields(client, owner, outsider, staff):
    account = owner.billing_account
    client.force_login(outsider)
    assert post_action(client, "prepaid-enable", {"account_id": account.pk}).status_code == 403
    client.force_login(staff)
    bad = post_action(client, "credits-grant", {"account_id": account.pk, "amount_cents": 0})
    assert bad.status_code == 400
    assert {"amount_cents", "reason", "idempotency_key"} <= set(bad.json())
    too_big = {
        "account_id": account.pk,
        "amount_cents": 10**12,
        "reason": "r",
        "idempotency_key": "k",
    }
    response = post_action(client, "credits-grant", too_big)
    assert response.status_code == 400 and "amount_cents" in response.json()
    assert CreditTransaction.objects.count() == 0


@override_settings(PREPAID_FEATURE_ENABLED=False)
def test_enable_door_answers_409_when_prepaid_is_switched_off(client, staff, owner):
    client.force_login(staff)
    response = post_action(client, "prepaid-enable", {"account_id": owner.billing_account.pk})
    assert response.status_code == 409
    assert "switched off" in response.json()["detail"]
