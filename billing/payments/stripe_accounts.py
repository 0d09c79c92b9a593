"""What Stripe's invoice and subscription events mean for a postpaid account: its status, a
notice to the user, and the dj-stripe mirror the billing pages read invoices from."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from billing.ledger.money import format_cents
from billing.models import AccountStatus, BillingAccount
from billing.payments import gateway
from billing.payments.event_order import event_claim

logger = logging.getLogger(__name__)

# Subscription states that mean "not paying": the account goes in arrears until they clear.
ARREARS_SUBSCRIPTION_STATES = {"past_due", "unpaid"}
GOOD_SUBSCRIPTION_STATES = {"active", "trialing"}


def stripe_customer_account(customer_id: str | None) -> BillingAccount | None:
    if not customer_id:
        return None
    return (
        BillingAccount.objects.select_related("user")
        .filter(stripe_customer_id=str(customer_id))
        .first()
    )


@transaction.atomic
def account_invoice_paid(*, account: BillingAccount, invoice: dict, event: dict) -> None:
    """An invoice was paid: an account in arrears is active again (and told so)."""
    account = BillingAccount.objects.select_for_update().select_related("user").get(pk=account.pk)
    latest = _latest(account, event)
    if latest and account.status == AccountStatus.IN_ARREARS and not account.is_prepaid:
        _status_set(account, AccountStatus.ACTIVE)
        _notify(
            account,
            "Your Hopsworks invoice is paid",
            f"We received {_amount(invoice, 'amount_paid')} for invoice "
            f"{invoice.get('number') or invoice.get('id')}. Your account is in good standing.",
        )


@transaction.atomic
def account_invoice_payment_failed(*, account: BillingAccount, invoice: dict, event: dict) -> bool:
    """A payment failed: a postpaid account is in arrears. The user hears about it from
    dunning (billing.payments.dunning: day-0 reminder, then the grace period). Returns whether
    the event was the newest for the account: an older failure opens no grace period."""
    account = BillingAccount.objects.select_for_update().select_related("user").get(pk=account.pk)
    latest = _latest(account, event)
    if latest and account.status == AccountStatus.ACTIVE and not account.is_prepaid:
        _status_set(account, AccountStatus.IN_ARREARS)
    return latest


@transaction.atomic
def account_subscription_changed(
    *, account: BillingAccount, subscription: dict, deleted: bool, event: dict
) -> None:
    """Subscription state drives a postpaid account: past_due/unpaid -> in arrears, active ->
    active, deleted (canceled) -> suspended and the subscription id forgotten, so provisioning
    can open a new one."""
    account = BillingAccount.objects.select_for_update().get(pk=account.pk)
    if deleted and account.stripe_subscription_id == subscription.get("id"):
        account.stripe_subscription_id = ""
        account.save(update_fields=["stripe_subscription_id", "updated_at"])
    if not _latest(account, event) or account.is_prepaid:
        return
    state = "canceled" if deleted else subscription.get("status", "")
    if state in ARREARS_SUBSCRIPTION_STATES and account.status == AccountStatus.ACTIVE:
        _status_set(account, AccountStatus.IN_ARREARS)
    elif state in GOOD_SUBSCRIPTION_STATES and account.status == AccountStatus.IN_ARREARS:
        _status_set(account, AccountStatus.ACTIVE)
    elif state == "canceled" and account.status != AccountStatus.SUSPENDED:
        _status_set(account, AccountStatus.SUSPENDED)


def _latest(account: BillingAccount, event: dict) -> bool:
    """Whether this invoice or subscription event is the newest seen for the account (whose
    row the caller has locked); an older one must not undo a newer one's status."""
    return event_claim(account, event, prefix="status_event")


def _status_set(account: BillingAccount, status: str) -> None:
    logger.info("account %s: %s -> %s (Stripe)", account.pk, account.status, status)
    account.status = status
    account.save(update_fields=["status", "updated_at"])


def _amount(invoice: dict, field: str) -> str:
    return format_cents(int(invoice.get(field) or 0), invoice.get("currency"))


def _notify(account: BillingAccount, subject: str, message: str) -> None:
    email = account.user.email

    def send() -> None:
        send_mail(
            subject=subject,
            message=message,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
            fail_silently=True,
        )

    transaction.on_commit(send)


def stripe_mirror(obj: dict) -> None:
    """Mirror a Customer, Subscription or Invoice into dj-stripe's tables (pages read invoices
    from there). dj-stripe fetches what the object refers to from Stripe itself."""
    if not settings.STRIPE_MIRROR_ENABLED:
        return
    from djstripe import models as djstripe_models

    models = {
        "customer": djstripe_models.Customer,
        "subscription": djstripe_models.Subscription,
        "invoice": djstripe_models.Invoice,
    }
    if obj.get("object") not in models:
        return
    data = gateway.mirror_object(obj)
    models[obj["object"]].sync_from_stripe_data(data, api_key=settings.STRIPE_SECRET_KEY)
