"""The billing page's auto top-up section (prepaid): its settings form and the button that
saves a card through Stripe Checkout without buying anything. Thin doors into
billing.payments.auto_topup; always the caller's own account."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from billing.ledger import billing_account_ensure, prepaid_active
from billing.ledger.money import from_cents, to_cents
from billing.models import BillingAccount
from billing.payments.auto_topup import auto_topup_card_setup_start, auto_topup_settings_set
from billing.portal.form_doors import form_saved
from billing.portal.forms import AutoTopUpForm
from billing.portal.selectors import auto_topup_shown
from config.errors import DomainError, page_error


def auto_topup_context(account: BillingAccount, form: AutoTopUpForm | None = None) -> dict:
    """What templates/billing/_auto_topup.html shows; nothing for postpaid accounts."""
    if not prepaid_active(account):
        return {"auto_topup_form": None}
    row, last = auto_topup_shown(account)
    if form is None:
        initial = {"enabled": False, "threshold": from_cents(1000), "amount": from_cents(2500)}
        if row is not None:
            initial = {
                "enabled": row.enabled,
                "threshold": from_cents(row.threshold_cents),
                "amount": from_cents(row.amount_cents),
            }
        form = AutoTopUpForm(initial=initial)
    return {
        "auto_topup_form": form,
        "auto_topup": row,
        "auto_topup_last": last,
    }


@login_required
@require_http_methods(["POST"])
def auto_topup_save(request):
    account = billing_account_ensure(user=request.user)
    form = AutoTopUpForm(request.POST)

    def save(data: dict) -> None:
        auto_topup_settings_set(
            account=account,
            enabled=data["enabled"],
            threshold_cents=to_cents(data["threshold"]),
            amount_cents=to_cents(data["amount"]),
        )

    if form_saved(request, form, save, "Your auto top-up is saved."):
        return redirect("billing")
    context = {"account": account, "currency": account.currency} | auto_topup_context(account, form)
    return render(request, "billing/auto_topup_invalid.html", context, status=400)


@login_required
@require_http_methods(["POST"])
def auto_topup_card_save(request):
    """Off to a setup-mode Checkout Session; the card arrives by webhook."""
    account = billing_account_ensure(user=request.user)
    try:
        url = auto_topup_card_setup_start(account=account)
    except DomainError as exc:
        page_error(request, exc)
        return redirect("billing")
    return redirect(url)
