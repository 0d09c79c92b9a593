"""The billing pages: thin doors into the portal selectors (reads) and billing.ledger (writes)."""

from __future__ import annotations

import csv
import hashlib
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from billing.budgets.alerts import alert_settings_of, alert_settings_set
from billing.budgets.spend import today_spend
from billing.ledger import billing_account_ensure, prepaid_active
from billing.ledger.calendar import billing_today, month_bounds
from billing.ledger.money import format_cents, from_cents, round_cost, to_cents
from billing.models import AccountStatus, CreditPurchase, SpendAlert
from billing.payments import credits_purchase_start, gateway, payment_methods
from billing.portal import display, fragments, selectors
from billing.portal.form_doors import form_saved
from billing.portal.forms import AlertsForm, CreditPurchaseForm, DaysForm, MonthForm
from billing.portal.pause import pause_of
from billing.portal.statement import month_statement
from billing.portal.usage_panels import usage_panels
from billing.portal.views_auto_topup import auto_topup_context
from config.errors import DomainError, page_error
from config.ids import parse_id


def home(request):
    return render(request, "home.html")


@login_required
@require_GET
def billing_page(request):
    days_form = DaysForm(request.GET)
    days = (days_form.cleaned_data.get("days") if days_form.is_valid() else None) or 30
    month_form = MonthForm(request.GET)
    today = billing_today()
    chosen = month_form.cleaned_data.get("month") if month_form.is_valid() else None
    first, last = month_bounds(chosen or today)
    if chosen:  # the chart shows the chosen month; without one, the last 30 or 90 days
        window = (first, min(last, today))
    else:
        window = (today - timedelta(days=days - 1), today)

    account, version = selectors.account_with_version(request.user)
    prepaid = prepaid_active(account)
    context = {
        "account": account,
        "prepaid": prepaid,
        "banners": _banners(account, prepaid, version[2]),
        "days": days,
        "today": today,
        "usage_month": first,
        "month_last": last,
        "month_chosen": chosen is not None,
        "current_month": first == month_bounds(today)[0],
        "invoice_date": last + timedelta(days=1),
        "window": window,
        "month_form": month_form,
        "currency": account.currency,
        "low_balance": prepaid and account.balance_cents < settings.LOW_BALANCE_THRESHOLD_CENTS,
        "collection_hour": "02:00",
        "time_zone": settings.BILLING_TIME_ZONE,
    }
    page = request.GET.get("page")
    key = _page_cache_key(account, version, today, window, first, page, month_form.errors)
    body = cache.get(key) if key else None
    if body is None:
        panels = _panels(request.user, account, context, window, page)
        body = render_to_string("billing/_page_body.html", context | panels, request)
        if key:
            cache.set(key, body, settings.BILLING_PAGE_CACHE_SECONDS)
    body = mark_safe(body.replace(CSRF_MARKER, _csrf_input(request), 1))  # noqa: S308
    # Outside the cached content: the pause banner and the auto top-up form (its own CSRF).
    outside = {"pause": pause_of(account), **auto_topup_context(account)}
    return render(request, "billing/page.html", context | outside | {"body": body})


# The page's one form (budget and alerts) is in the cached content; its CSRF token is not.
CSRF_MARKER = mark_safe("<!-- csrf-token -->")


def _csrf_input(request) -> str:
    return format_html(
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request)
    )


def _alerts_context(account, form: AlertsForm | None = None) -> dict:
    if form is None:
        wanted = alert_settings_of(account=account)
        budget = wanted.monthly_budget_cents
        form = AlertsForm(
            initial={
                "monthly_budget": None if budget is None else from_cents(budget),
                "alert_percents": ", ".join(str(p) for p in wanted.alert_percents),
                "low_balance_thresholds": ", ".join(
                    str(from_cents(t)) for t in wanted.low_balance_thresholds_cents
                ),
                "hard_cap": wanted.hard_cap,
            }
        )
    history = SpendAlert.objects.filter(account=account)[:20]
    return {"alerts_form": form, "alerts_history": history}


@login_required
@require_http_methods(["POST"])
def alerts_save(request):
    """The page's budget and alerts form: always the caller's own account."""
    account = billing_account_ensure(user=request.user)
    form = AlertsForm(request.POST)

    def save(data: dict) -> None:
        budget = data["monthly_budget"]
        alert_settings_set(
            account=account,
            monthly_budget_cents=None if budget is None else to_cents(budget),
            alert_percents=data["alert_percents"],
            low_balance_thresholds_cents=data["low_balance_thresholds"],
            hard_cap=data["hard_cap"],
        )

    if form_saved(request, form, save, "Your budget and alerts are saved."):
        return redirect("billing")
    context = {"account": account, "currency": account.currency, "csrf_input": _csrf_input(request)}
    context |= _alerts_context(account, form)
    return render(request, "billing/alerts_invalid.html", context, status=400)


def _page_cache_key(account, version, today, window, first, page, month_errors) -> str | None:
    """Everything the cached body depends on: the account row as read now (balance, status,
    mode), the data version (latest posting, usage fingerprint, provisioning, invoices), the
    day, the chart window, the month and the ledger page. None: do not cache."""
    if settings.BILLING_PAGE_CACHE_SECONDS <= 0 or month_errors:
        return None
    parts = (
        account.pk,
        account.user_id,
        account.mode,
        account.status,
        account.prepaid_enabled,
        account.balance_cents,
        account.currency,
        account.stripe_customer_id,
        account.payment_method_brand,
        account.payment_method_last4,
        settings.PREPAID_FEATURE_ENABLED,
        settings.LOW_BALANCE_THRESHOLD_CENTS,
        settings.BILLING_TIME_ZONE,
        version,
        today,
        window,
        first,
        page,
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()
    return f"billing-page:{account.pk}:{digest}"


def _panels(user, account, context: dict, window, page) -> dict:
    panels = usage_panels(user=user, account=account, context=context, window=window)
    panels["collecting"] = selectors.collecting(account=account)
    panels["today_spend"] = today_spend(account=account)
    panels |= _alerts_context(account) | {"csrf_input": CSRF_MARKER}
    if context["prepaid"]:
        panels["runway_days"] = selectors.runway_days(
            balance_cents=account.balance_cents, series=panels["recent"]
        )
        ledger = selectors.ledger_page(account=account, page=page)
        refs = selectors.ledger_usage_refs(ledger.object_list)
        panels["ledger"] = ledger
        panels["ledger_rows"] = fragments.ledger_rows_html(
            ledger.object_list, account.currency, refs
        )
    else:
        panels["invoices"] = selectors.recent_invoices(account=account)
    return panels


def _banners(account, prepaid: bool, provisioning: str | None) -> list[dict]:
    banners = []
    if provisioning in selectors.PROVISIONING_IN_PROGRESS:
        banners.append(
            {
                "level": "warn",
                "text": "Your Hopsworks account is still being set up. This usually takes a "
                "few minutes; usage appears here once your cluster reports it.",
            }
        )
    elif provisioning == "failed":
        banners.append(
            {
                "level": "bad",
                "text": "Setting up your Hopsworks account needs our attention. Our staff "
                "can see the problem and will finish it; no need to sign up again.",
            }
        )
    if account.status == AccountStatus.SUSPENDED:
        settle = "buy credits" if prepaid else "pay the open invoice"
        banners.append(
            {
                "level": "bad",
                "text": f"Your account is suspended. To resume, {settle}. Contact support if "
                "you think this is a mistake.",
            }
        )
    elif account.status == AccountStatus.IN_ARREARS:
        text = (
            "Your credit balance is below zero. Buy credits: after "
            f"{settings.PREPAID_ARREARS_GRACE_HOURS} hours below zero your running work is "
            "stopped."
            if prepaid
            else "An invoice payment failed. Stripe retries it; update your card with "
            "Manage payment method below before the grace period ends."
        )
        banners.append({"level": "bad", "text": text})
    if not prepaid and not account.payment_method_last4:
        banners.append(
            {
                "level": "warn",
                "testid": "add-payment-method",
                "text": "Add a payment method so your monthly invoices can be paid: use "
                "Manage payment method below.",
            }
        )
    return banners


@login_required
@require_GET
def export_csv(request):
    form = MonthForm(request.GET)
    if not form.is_valid() or form.cleaned_data.get("month") is None:
        errors = form.errors.get("month") or ["Choose a month (YYYY-MM)."]
        return HttpResponseBadRequest(f"month: {errors[0]}", content_type="text/plain")
    month = form.cleaned_data["month"]
    statement = month_statement(user=request.user, month=month, today=billing_today())
    filename = f"hopsbill-usage-{month:%Y-%m}.csv"
    response = StreamingHttpResponse(_csv_lines(statement), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class _Echo:
    def write(self, value):
        return value


CSV_HEADER = [
    "date",
    "cluster",
    "collection_status",
    "charged",
    "project",
    "resource",
    "instance_type",
    "quantity",
    "measured",
    "unit",
    "billed_quantity",
    "price_unit",
    "unit_price",
    "cost",
    "cost_cents",
    "note",
]


def _csv_lines(statement):
    """One row per line item, oldest day first: billed_quantity x unit_price = cost (exact),
    and cost_cents, allocated, adds up to the page's day and month totals."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for day in reversed(statement.days):
        for cluster_day in day.clusters:
            for line in cluster_day.lines:
                yield writer.writerow(_csv_row(day.date, cluster_day, line))


def _csv_row(day, cluster_day, line) -> list:
    measured = not line.not_measured
    note = "" if measured else display.NOT_MEASURED
    if not cluster_day.charged:
        note = "; ".join(filter(None, [note, "Not charged: collection incomplete"]))
    return [
        day.isoformat(),
        cluster_day.cluster,
        cluster_day.status,
        "yes" if cluster_day.charged else "no",
        line.project,
        line.resource,
        line.instance_type,
        line.quantity if measured else "",
        "yes" if measured else "no",
        line.measured_unit,
        round_cost(line.billed_quantity) if measured else "",
        line.price_unit,
        "" if line.unit_price is None else f"{line.unit_price.normalize():f}",
        line.cost if measured and line.cost is not None else "",
        line.cost_cents if measured else "",
        note,
    ]


@login_required
@require_http_methods(["GET", "POST"])
def credits_buy(request):
    account = selectors.account_for(request.user)
    if not prepaid_active(account):
        context = {"prepaid_feature": settings.PREPAID_FEATURE_ENABLED}
        return render(request, "billing/credits_postpaid.html", context, status=403)
    stripe_ready = gateway.is_configured()
    data = request.POST if request.method == "POST" and stripe_ready else None
    form = CreditPurchaseForm(data, currency=account.currency, balance_cents=account.balance_cents)
    status = 200 if stripe_ready or request.method == "GET" else 503
    if data is not None and form.is_valid():
        try:
            purchase = credits_purchase_start(
                account=account, amount_cents=form.cleaned_data["amount_cents"]
            )
        except DomainError as exc:
            page_error(request, exc, form=form)
        else:
            return redirect(purchase.checkout_url)
    if data is not None and form.errors:
        status = 400
    context = {
        "form": form,
        "account": account,
        "stripe_ready": stripe_ready,
        "balance": format_cents(account.balance_cents, account.currency),
    }
    return render(request, "billing/credits.html", context, status=status)


@login_required
@require_http_methods(["POST"])
def payment_method_manage(request):
    """Open Stripe's customer portal (add or replace a card, invoices and receipts). Stripe
    down: a message on the billing page, nothing written."""
    account = selectors.account_for(request.user)
    try:
        url = payment_methods.portal_url(account=account)
    except DomainError as exc:
        page_error(request, exc)
        return redirect("billing")
    return redirect(url)


def _own_purchase(request) -> CreditPurchase | None:
    raw = request.GET.get("purchase", "")
    if not raw:
        return None
    purchase_id = parse_id(raw)
    if purchase_id is None:
        raise Http404("No such purchase.")
    return get_object_or_404(
        CreditPurchase.objects.select_related("account"),
        pk=purchase_id,
        account__user=request.user,
    )


@login_required
@require_GET
def credits_success(request):
    purchase = _own_purchase(request)
    if purchase is None:
        raise Http404("No such purchase.")
    paid = purchase.status == CreditPurchase.Status.PAID
    return render(
        request,
        "billing/credits_success.html",
        {
            "purchase": purchase,
            "paid": paid,
            "amount": format_cents(purchase.amount_cents, purchase.currency),
            "balance": format_cents(purchase.account.balance_cents, purchase.account.currency),
        },
    )


@login_required
@require_GET
def credits_cancel(request):
    purchase = _own_purchase(request)
    return render(request, "billing/credits_cancel.html", {"purchase": purchase})


def trivial(request):
    """A view without database work: the baseline of bench/pages.py."""
    return HttpResponse("ok", content_type="text/plain")
