from __future__ import annotations

from django.core.management.base import CommandError

from accounts.models import User
from billing.models import BillingAccount
from billing.services import billing_account_ensure


def account_for_email(email: str) -> BillingAccount:
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        raise CommandError(f"No user with email {email!r}.")
    return billing_account_ensure(user=user)
