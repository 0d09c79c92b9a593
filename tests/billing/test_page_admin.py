"""Staff panel: the billing account actions (prepaid switch, grant with a reason form) and
the search that answers a support question."""

from __future__ import annotations

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import override_settings

from billing.models import BillingModeChange, CreditTransaction

CHANGELIST = "/admin/billing/billingaccount/"


def act(client, action, accounts, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [a.pk for a in accounts], **extra}
    return client.post(CHANGELIST, data, follow=True)


def test_non_staff_cannot_open_the_panel(client, outsider):
    client.force_login(outsider)
    assert client.get(CHANGELIST).status_code == 302


def test_enable_then_disable_prepaid(client, staff, owner):
    client.force_login(staff)
    account = owner.billing_account
    response = act(client, "enable_prepaid", [account])
    assert "prepaid enabled" in response.content.decode()
    account.refresh_from_db()
    assert account.mode == "prepaid" and account.prepaid_enabled
    assert BillingModeChange.objects.get().changed_by == staff
    act(client, "disable_prepaid", [account])
    account.refresh_from_db()
    assert account.mode == "postpaid" and not account.prepaid_enabled


@override_settings(PREPAID_FEATURE_ENABLED=False)
def test_enable_prepaid_reports_the_refusal(client, staff, owner):
    client.force_login(staff)
    response = act(client, "enable_prepaid", [owner.billing_account])
    assert "switched off" in response.content.decode()
    owner.billing_account.refresh_from_db()
    assert owner.billing_account.mode == "postpaid"


def test_grant_credits_asks_for_amount_and_reason_first(client, staff, prepaid_account):
    client.force_login(staff)
    response = act(client, "grant_credits", [prepaid_account])
    body = response.content.decode()
    assert "Grant promotional credits" in body and "owner@example.com" in body
    assert 'name="reason"' in body and 'name="request_key"' in body
    assert CreditTransaction.objects.count() == 0


def test_grant_credits_with_reason_posts_once_per_form(client, staff, owner, outsider):
    client.force_login(staff)
    accounts = [owner.billing_account, outsider.billing_account]
    form = {"apply": "1", "amount": "12.50", "reason": "Outage", "request_key": "abc123"}
    response = act(client, "grant_credits", accounts, **form)
    assert "Granted $12.50 to 2 account(s)" in response.content.decode()
    act(client, "grant_credits", accounts, **form)  # a double submit of the same form
    txs = CreditTransaction.objects.all()
    assert len(txs) == 2
    assert {t.amount_cents for t in txs} == {12_50}
    assert all(t.reason == "Outage" and t.created_by == staff for t in txs)


def test_grant_without_reason_shows_the_form_again(client, staff, prepaid_account):
    client.force_login(staff)
    form = {"apply": "1", "amount": "5", "reason": "  ", "request_key": "k"}
    response = act(client, "grant_credits", [prepaid_account], **form)
    assert "This field is required" in response.content.decode()
    assert CreditTransaction.objects.count() == 0


def test_search_by_email_and_links_to_history(client, staff, owner, outsider):
    client.force_login(staff)
    body = client.get(f"{CHANGELIST}?q=owner@").content.decode()
    assert "owner@example.com" in body and "outsider@example.com" not in body
    assert f"?account__id__exact={owner.billing_account.pk}" in body
    assert f"?user__id__exact={owner.pk}" in body
