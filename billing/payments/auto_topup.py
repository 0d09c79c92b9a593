"""Auto top-up, the Stripe side: the user's settings, saving a card through Checkout, the
off-session charge of a recorded crossing, and what the PaymentIntent webhooks do to it.

The crossing itself (one AutoTopUpCharge row per crossing, then the charge enqueued) is
billing.budgets.auto_topup. Here:
1. `auto_topup_charge` (Celery, by charge id): one confirmed off-session PaymentIntent keyed
   by the charge id, so a resent task reaches the same PaymentIntent;
2. `payment_intent.succeeded` grants the credits once (`auto_topup_payment_succeeded`, keyed
   by the PaymentIntent id, like a Checkout purchase by its session id);
3. a decline, 3-D Secure or Stripe being down records the attempt and emails the user once per
   charge; after AUTO_TOPUP_MAX_FAILURES declines in a row auto top-up turns itself off.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from billing.budgets.alerts import MAX_BUDGET_CENTS
from billing.budgets.auto_topup import auto_topup_is_on
from billing.ledger.accounts import prepaid_active
from billing.ledger.errors import BillingError, PrepaidNotAllowed
from billing.ledger.money import format_cents
from billing.ledger.postings import credits_record_payment
from billing.models import AutoTopUp, AutoTopUpCharge, BillingAccount
from billing.payments import gateway
from billing.payments.purchases import validate_purchase_amount
from config.ids import parse_id

logger = logging.getLogger(__name__)

AUTO_TOPUP_MAX_FAILURES = 3
METADATA_KEY = "hopsbill_auto_topup_id"
Status = AutoTopUpCharge.Status
# A charge still waiting for its outcome: leaving one of these is the failure that counts.
IN_FLIGHT = {Status.PENDING, Status.PROCESSING}


class InvalidThreshold(BillingError):
    field = "threshold_cents"


def auto_topup_settings_set(
    *, account: BillingAccount, enabled: bool, threshold_cents: int, amount_cents: int
) -> AutoTopUp:
    """Validated again here (every door comes through): prepaid only, the amount within the
    credit purchase limits, the threshold above zero and sane. Turning it on clears the
    failure count and the banner."""
    if not prepaid_active(account):
        raise PrepaidNotAllowed("Auto top-up is for prepaid accounts.")
    validate_purchase_amount(amount_cents)
    if isinstance(threshold_cents, bool) or not isinstance(threshold_cents, int):
        raise InvalidThreshold("The threshold must be a whole number of cents.")
    if not 0 < threshold_cents <= MAX_BUDGET_CENTS:
        raise InvalidThreshold("The threshold must be above zero and at most $1,000,000.")
    defaults: dict = {"enabled": enabled, "threshold_cents": threshold_cents}
    defaults["amount_cents"] = amount_cents
    if enabled:
        defaults |= {"consecutive_failures": 0, "disabled_reason": ""}
    row, _ = AutoTopUp.objects.update_or_create(account=account, defaults=defaults)
    return row


def auto_topup_card_setup_start(*, account: BillingAccount) -> str:
    """A setup-mode Checkout Session that saves a card without buying anything; its URL."""
    if not prepaid_active(account):
        raise PrepaidNotAllowed("Auto top-up is for prepaid accounts.")
    customer_id = gateway.customer_ensure(account=account)
    return gateway.checkout_setup_session_create(
        customer_id=customer_id,
        account_id=account.pk,
        currency=account.currency,
        success_url=f"{settings.SITE_URL}/billing/?card=saved",
        cancel_url=f"{settings.SITE_URL}/billing/",
    )


def auto_topup_charge(*, charge_id: int) -> AutoTopUpCharge:
    """Charge a recorded crossing once. Safe to run twice at once: both reach the same
    PaymentIntent (same idempotency key) and the outcome is applied under the row lock."""
    charge = AutoTopUpCharge.objects.select_related("account").get(pk=charge_id)
    account = charge.account
    if charge.status != Status.PENDING:
        return charge
    if not auto_topup_is_on(account=account):
        return _charge_cancelled(charge_id)
    if not (account.stripe_customer_id and account.payment_method_id):
        return _charge_failed(charge_id, Status.FAILED, "No saved card to charge.", counts=True)
    try:
        intent = gateway.payment_intent_charge_off_session(
            customer_id=account.stripe_customer_id,
            payment_method_id=account.payment_method_id,
            amount_cents=charge.amount_cents,
            currency=charge.currency,
            metadata={METADATA_KEY: str(charge.pk), "hopsbill_account_id": str(account.pk)},
            idempotency_key=f"auto-topup:{charge.pk}",
        )
    except gateway.StripeCardDeclined as exc:
        requires_action = exc.code == "authentication_required"
        status = Status.REQUIRES_ACTION if requires_action else Status.FAILED
        return _charge_failed(charge_id, status, str(exc), exc.payment_intent_id, counts=True)
    except gateway.StripeError as exc:
        # Stripe down or refusing the request: not the card's fault, so not counted.
        return _charge_failed(charge_id, Status.FAILED, str(exc), counts=False)
    return _charge_applied(charge_id, intent)


def _charge_applied(charge_id: int, intent) -> AutoTopUpCharge:
    if intent["status"] == "succeeded":
        return auto_topup_payment_succeeded(payment_intent=intent)
    if intent["status"] == "processing":
        return _charge_processing(charge_id, intent["id"])
    # requires_action (3-D Secure) or requires_payment_method: nobody is there to act.
    return auto_topup_payment_failed(payment_intent=intent)


@transaction.atomic
def _charge_processing(charge_id: int, payment_intent_id: str) -> AutoTopUpCharge:
    charge = AutoTopUpCharge.objects.select_for_update().get(pk=charge_id)
    if charge.status == Status.PENDING:
        charge.status = Status.PROCESSING
        charge.stripe_payment_intent_id = payment_intent_id
        charge.save(update_fields=["status", "stripe_payment_intent_id", "updated_at"])
    return charge


@transaction.atomic
def _charge_cancelled(charge_id: int) -> AutoTopUpCharge:
    charge = AutoTopUpCharge.objects.select_for_update().get(pk=charge_id)
    if charge.status == Status.PENDING:
        charge.status = Status.FAILED
        charge.failure_reason = "Auto top-up was turned off before the charge."
        charge.save(update_fields=["status", "failure_reason", "updated_at"])
    return charge


def charge_for_payment_intent(payment_intent) -> int | None:
    """The id of the top-up a PaymentIntent charges; None for one that is not a top-up (a
    Checkout purchase's, granted by checkout.session.completed)."""
    return parse_id((payment_intent.get("metadata") or {}).get(METADATA_KEY))


def payment_intent_owner_problem(payment_intent: dict) -> str | None:
    """Why a PaymentIntent event names a top-up that is not ours (None: ours, or no top-up)."""
    charge_id = charge_for_payment_intent(payment_intent)
    if charge_id is None:
        return None
    if not AutoTopUpCharge.objects.filter(
        pk=charge_id, account__stripe_customer_id=payment_intent.get("customer")
    ).exists():
        return f"PaymentIntent {payment_intent.get('id')!r} names no top-up of ours."
    return None


def _locked_charge(payment_intent) -> AutoTopUpCharge | None:
    charge_id = charge_for_payment_intent(payment_intent)
    if charge_id is None:
        return None
    return (
        AutoTopUpCharge.objects.select_for_update(of=("self",))
        .select_related("account")
        .get(pk=charge_id)
    )


@transaction.atomic
def auto_topup_payment_succeeded(*, payment_intent) -> AutoTopUpCharge | None:
    """`payment_intent.succeeded` (or the create call's answer): grant what was received,
    keyed by the PaymentIntent id, once however many deliveries race here; reset the count
    of failures."""
    charge = _locked_charge(payment_intent)
    if charge is None or charge.transaction_id:
        return charge  # not a top-up, or a duplicate delivery: granted already
    currency = str(payment_intent.get("currency") or "").lower()
    if currency != charge.account.currency.lower():
        raise BillingError(
            f"PaymentIntent {payment_intent['id']} was paid in {currency!r}, "
            f"the account bills in {charge.account.currency!r}."
        )
    charge.transaction = credits_record_payment(
        account=charge.account,
        amount_cents=int(payment_intent.get("amount_received") or payment_intent["amount"]),
        stripe_payment_intent_id=payment_intent["id"],
    )
    charge.status = Status.SUCCEEDED
    charge.stripe_payment_intent_id = payment_intent["id"]
    charge.failure_reason = ""
    charge.save(
        update_fields=[
            "transaction",
            "status",
            "stripe_payment_intent_id",
            "failure_reason",
            "updated_at",
        ]
    )
    AutoTopUp.objects.filter(account=charge.account).update(consecutive_failures=0)
    return charge


def auto_topup_payment_failed(*, payment_intent) -> AutoTopUpCharge | None:
    """`payment_intent.payment_failed` or `payment_intent.requires_action`: recorded, the
    user emailed once; counted once per charge."""
    charge_id = charge_for_payment_intent(payment_intent)
    if charge_id is None:
        return None
    error = payment_intent.get("last_payment_error") or {}
    requires_action = payment_intent.get("status") == "requires_action" or (
        error.get("code") == "authentication_required"
    )
    reason = error.get("message") or (
        "The bank asks for authentication (3-D Secure)." if requires_action else "Declined."
    )
    status = Status.REQUIRES_ACTION if requires_action else Status.FAILED
    return _charge_failed(charge_id, status, reason, payment_intent.get("id") or "", counts=True)


@transaction.atomic
def _charge_failed(
    charge_id: int, status: str, reason: str, payment_intent_id: str = "", *, counts: bool
) -> AutoTopUpCharge:
    charge = AutoTopUpCharge.objects.select_for_update().get(pk=charge_id)
    if charge.status == Status.SUCCEEDED:
        return charge  # a late or reordered failure cannot undo a grant
    first = charge.status in IN_FLIGHT
    charge.status, charge.failure_reason = status, reason[:2000]
    charge.stripe_payment_intent_id = charge.stripe_payment_intent_id or payment_intent_id or None
    charge.save(
        update_fields=["status", "failure_reason", "stripe_payment_intent_id", "updated_at"]
    )
    if first and counts:
        _failure_count(charge.account_id)
    _notify_once(charge)
    return charge


def _failure_count(account_id: int) -> None:
    row = AutoTopUp.objects.select_for_update().filter(account_id=account_id).first()
    if row is None:
        return
    row.consecutive_failures += 1
    if row.enabled and row.consecutive_failures >= AUTO_TOPUP_MAX_FAILURES:
        row.enabled = False
        row.disabled_reason = (
            f"Auto top-up turned itself off after {AUTO_TOPUP_MAX_FAILURES} failed payments "
            "in a row. Check your card, then turn it on again."
        )
    row.save(update_fields=["consecutive_failures", "enabled", "disabled_reason", "updated_at"])


def _notify_once(charge: AutoTopUpCharge) -> None:
    claimed = AutoTopUpCharge.objects.filter(pk=charge.pk, notified_at__isnull=True).update(
        notified_at=timezone.now()
    )
    if claimed:
        transaction.on_commit(lambda: _email(charge.pk))


def _email(charge_id: int) -> None:
    charge = AutoTopUpCharge.objects.select_related("account__user").get(pk=charge_id)
    account = charge.account
    amount = format_cents(charge.amount_cents, account.currency)
    lines = [
        f"We tried to top up your Hopsworks credits by {amount} and the payment did not go "
        f"through: {charge.failure_reason}",
        f"Nothing was charged or added. Buy credits at {settings.SITE_URL}/billing/credits/.",
    ]
    row = AutoTopUp.objects.filter(account=account).first()
    if row is not None and row.disabled_reason:
        lines.append(row.disabled_reason)
    send_mail(
        subject="Your automatic credit top-up failed",
        message="\n\n".join(lines + [f"Your settings: {settings.SITE_URL}/billing/."]),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[account.user.email],
        fail_silently=True,
    )
