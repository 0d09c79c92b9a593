from __future__ import annotations

from django.core.management.base import CommandError

from accounts.models import User
from billing.ledger import billing_account_ensure
from billing.models import BillingAccount


def account_for_email(email: str) -> BillingAccount:
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        raise CommandError(f"No user with email {email!r}.")
    return billing_account_ensure(user=user)
