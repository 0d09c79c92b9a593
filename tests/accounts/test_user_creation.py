from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.models import User
from billing.models import BillingAccount, BillingMode


def test_create_user_gives_one_postpaid_account(db):
    user = User.objects.create_user("Someone@Example.com", "pw-123456")
    assert user.email == "someone@example.com"
    account = BillingAccount.objects.get(user=user)
    assert account.mode == BillingMode.POSTPAID
    assert account.balance_cents == 0


def test_createsuperuser_gets_an_account(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "pw-super-123456")
    call_command("createsuperuser", "--noinput", "--email", "boss@example.com")
    assert BillingAccount.objects.filter(user__email="boss@example.com").count() == 1


def test_admin_add_user_gets_an_account(client, staff):
    client.force_login(staff)
    response = client.post(
        "/admin/accounts/user/add/",
        {
            "email": "new@example.com",
            "password1": "Very-long-pw-91",
            "password2": "Very-long-pw-91",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content[:500]
    assert BillingAccount.objects.filter(user__email="new@example.com").count() == 1


def test_auth0_subject_is_unique_but_nullable(db):
    User.objects.create_user("a@example.com", auth0_subject=None)
    User.objects.create_user("b@example.com", auth0_subject=None)
    User.objects.create_user("c@example.com", auth0_subject="auth0|1")
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        User.objects.create_user("d@example.com", auth0_subject="auth0|1")


def test_user_create_opens_the_billing_account_in_the_same_transaction(db):
    from accounts.services import user_create

    user = user_create(email="New@Example.com", password="pw-123456", first_name="New")
    assert user.email == "new@example.com" and user.check_password("pw-123456")
    assert BillingAccount.objects.get(user=user).mode == BillingMode.POSTPAID
