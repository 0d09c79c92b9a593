"""A prepaid account ready for auto top-up, shared by the charge and the webhook tests."""

from __future__ import annotations

from billing.models import BillingAccount
from billing.payments.auto_topup import auto_topup_settings_set

CUSTOMER = "cus_topup"


def auto_topup_ready(account: BillingAccount) -> BillingAccount:
    """A saved Visa on Stripe customer CUSTOMER, and auto top-up of $25 below $10."""
    BillingAccount.objects.filter(pk=account.pk).update(
        stripe_customer_id=CUSTOMER,
        payment_method_id="pm_card_visa",
        payment_method_brand="visa",
        payment_method_last4="4242",
    )
    account.refresh_from_db()
    auto_topup_settings_set(account=account, enabled=True, threshold_cents=1000, amount_cents=2500)
    return account
