"""Read queries for the billing page and the billing API. Aggregates over a window of days are
computed in the database (one query per panel), so the page costs the same for a day of usage
or a year; a month's lines and their allocated cents are billing.portal.statement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.models import ProvisioningRun, SuspensionRun, SuspensionStep
from accounts.suspension import suspension_summary
from billing.models import (
    AutoTopUp,
    AutoTopUpCharge,
    BillingAccount,
    BudgetSettings,
    ChargeReversal,
    CreditTransaction,
    DunningCase,
    SpendAlert,
)
from usage.models import CollectionStatus, SpendEstimate, UsageDay

LEDGER_PAGE_SIZE = 25
CHART_WINDOWS = (30, 90)
INVOICE_LIMIT = 12
ZERO = Decimal(0)


@dataclass(frozen=True)
class DailyCost:
    date: date
    cents: int | None  # charged (complete usage days); None: no usage recorded that day
    incomplete: bool = False


PROVISIONING_IN_PROGRESS = {"pending", "running", "waiting"}


def provisioning_status(*, user) -> str | None:
    """The status of the user's signup provisioning run, None when there is none (users made
    by staff or the demo)."""
    return ProvisioningRun.objects.filter(user=user).values_list("status", flat=True).first()


def account_for(user) -> BillingAccount:
    return BillingAccount.objects.select_related("user").get(user=user)


def daily_costs(*, user, first: date, last: date) -> list[DailyCost]:
    """One entry per day of [first, last]: the cents charged (complete usage days), gaps as
    None. One query."""
    rows = (
        UsageDay.objects.filter(user=user, date__gte=first, date__lte=last)
        .values("date")
        .annotate(
            charged=Sum("cost_cents", filter=Q(status=CollectionStatus.COMPLETE)),
            incomplete=Count("id", filter=~Q(status=CollectionStatus.COMPLETE)),
        )
        .order_by("date")
    )
    by_date = {r["date"]: r for r in rows}
    series = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        row = by_date.get(day)
        series.append(
            DailyCost(
                date=day,
                cents=(row["charged"] or 0) if row else None,
                incomplete=bool(row and row["incomplete"]),
            )
        )
    return series


def runway_days(*, balance_cents: int, series: list[DailyCost]) -> int | None:
    """Whole days the balance lasts at the average charged cost of the days with usage in
    `series`; None when nothing is being spent."""
    spent = [d.cents for d in series if d.cents]
    if not spent or balance_cents <= 0:
        return None if not spent else 0
    return balance_cents * len(spent) // sum(spent)


def ledger_page(*, account: BillingAccount, page: int | str | None) -> Page:
    """One page of the ledger, newest first (a count and a page query)."""
    rows = CreditTransaction.objects.filter(account=account).only(
        "kind",
        "amount_cents",
        "balance_after_cents",
        "funding",
        "reason",
        "source_ref",
        "expires_at",
        "created_at",
    )
    return Paginator(rows, LEDGER_PAGE_SIZE).get_page(page)


@dataclass(frozen=True)
class InvoiceRow:
    id: str
    number: str
    status: str
    created: object
    total_cents: int | None
    amount_due_cents: int | None
    currency: str
    hosted_invoice_url: str
    invoice_pdf: str


def recent_invoices(*, account: BillingAccount, limit: int = INVOICE_LIMIT) -> list[InvoiceRow]:
    """The account's invoices from the dj-stripe mirror (synced from Stripe), newest first."""
    if not account.stripe_customer_id:
        return []
    from djstripe.models import Invoice

    rows = Invoice.objects.filter(customer_id=account.stripe_customer_id).order_by("-created")
    return [_invoice_row(inv) for inv in rows[:limit]]


def _invoice_row(inv) -> InvoiceRow:
    data = inv.stripe_data or {}
    return InvoiceRow(
        id=inv.id,
        number=data.get("number") or inv.id,
        status=data.get("status") or "",
        created=inv.created,
        total_cents=data.get("total"),
        amount_due_cents=data.get("amount_due"),
        currency=data.get("currency") or settings.BILLING_CURRENCY,
        hosted_invoice_url=data.get("hosted_invoice_url") or "",
        invoice_pdf=data.get("invoice_pdf") or "",
    )


def ledger_usage_refs(transactions) -> dict[str, tuple[date, str]]:
    """The usage day and cluster behind each usage posting on a ledger page (source_ref
    "usage_day:<id>"), in one query."""
    ids = {
        int(ref.split(":", 1)[1])
        for ref in (tx.source_ref or "" for tx in transactions)
        if ref.startswith("usage_day:") and ref.split(":", 1)[1].isdigit()
    }
    if not ids:
        return {}
    rows = UsageDay.objects.filter(pk__in=ids).values_list("pk", "date", "cluster__name")
    return {f"usage_day:{pk}": (day, cluster) for pk, day, cluster in rows}


def _joined(*expressions: str) -> str:
    """SQL joining the expressions' text with '/' (NULL as empty): concat_ws without needing
    it, as SQLite gained concat_ws only in 3.44 and `make run` runs on older ones."""
    return " || '/' || ".join(f"COALESCE(CAST({e} AS TEXT), '')" for e in expressions)


BUDGET_COLUMNS = (
    "max(updated_at)",
    "max(monthly_budget_cents)",
    "max(CAST(alert_percents AS TEXT))",
    "max(CAST(low_balance_thresholds_cents AS TEXT))",
)
ESTIMATE_COLUMNS = (
    "max(day)",
    "max(computed_at)",
    "count(*)",
    "sum(cost)",
    "sum(CASE WHEN stale THEN 1 ELSE 0 END)",
)


def account_with_version(user) -> tuple[BillingAccount, tuple]:
    """The user's account and, in the same query, everything else the billing page shows that
    can change: the latest ledger posting (the ledger is append-only), a fingerprint of the
    user's usage days (a collection rewrites a day's cost, status, run and updated_at together
    with its line items), the provisioning status and the mirrored invoices. Any posting or
    (re)collection changes the version, so a cache keyed by it never shows stale money. Also
    the budget settings, the alerts sent and today's estimate (and whether it is old by now),
    so the whole content is cached."""
    from djstripe.models import Invoice

    outer = BillingAccount._meta.db_table
    tx = CreditTransaction._meta.db_table
    day = UsageDay._meta.db_table
    run = ProvisioningRun._meta.db_table
    invoice = Invoice._meta.db_table
    usage_fingerprint = _joined(
        "max(updated_at)",
        "count(*)",
        "max(collection_run_id)",
        "sum(cost)",
        "sum(cost_cents)",
        "sum(CASE WHEN status = 'complete' THEN 0 ELSE 1 END)",
    )
    budget, alert = BudgetSettings._meta.db_table, SpendAlert._meta.db_table
    estimate = SpendEstimate._meta.db_table
    step, suspension = SuspensionStep._meta.db_table, SuspensionRun._meta.db_table
    dunning, reversal = DunningCase._meta.db_table, ChargeReversal._meta.db_table
    version = {
        "v_ledger": f"SELECT id FROM {tx} WHERE account_id = {outer}.id ORDER BY id DESC LIMIT 1",
        "v_usage": f"SELECT {usage_fingerprint} FROM {day} WHERE user_id = {outer}.user_id",
        "v_provisioning": f"SELECT status FROM {run} WHERE user_id = {outer}.user_id"
        " ORDER BY created_at DESC LIMIT 1",
        "v_invoices": f"SELECT {_joined('max(djstripe_updated)', 'count(*)')} FROM {invoice}"
        f" WHERE customer_id = {outer}.stripe_customer_id",
        # Suspension runs, dunning cases and refunds/disputes: shown in the collecting panel.
        "v_suspension": f"SELECT max(s.updated_at) FROM {step} s JOIN {suspension} r"
        f" ON s.run_id = r.id WHERE r.user_id = {outer}.user_id",
        "v_suspension_runs": f"SELECT count(*) FROM {suspension} WHERE user_id = {outer}.user_id",
        "v_dunning": f"SELECT max(updated_at) FROM {dunning} WHERE account_id = {outer}.id",
        "v_reversals": f"SELECT max(updated_at) FROM {reversal} WHERE account_id = {outer}.id",
        # The budget form, the alerts sent and today's estimate (a sampler pass rewrites it).
        "v_budget": f"SELECT {_joined(*BUDGET_COLUMNS)} FROM {budget}"
        f" WHERE account_id = {outer}.id",
        "v_alerts": f"SELECT {_joined('max(id)', 'count(*)')} FROM {alert}"
        f" WHERE account_id = {outer}.id",
        "v_estimate": f"SELECT {_joined(*ESTIMATE_COLUMNS)} FROM {estimate}"
        f" WHERE user_id = {outer}.user_id",
        # Shown as possibly low once older than SPEND_ESTIMATE_STALE_MINUTES: a time, not a row.
        "v_estimate_old": f"SELECT max(computed_at) < %s FROM {estimate}"
        f" WHERE user_id = {outer}.user_id",
    }
    shown = version | _auto_topup_columns(outer)
    columns = ", ".join(f"({sql}) AS {name}" for name, sql in shown.items())
    # A raw query: the ORM's compile of this query cost more than the database's work.
    too_old = timezone.now() - timedelta(minutes=settings.SPEND_ESTIMATE_STALE_MINUTES)
    rows = BillingAccount.objects.raw(
        f"SELECT {outer}.*, {columns} FROM {outer} WHERE {outer}.user_id = %s", [too_old, user.pk]
    )
    account = next(iter(rows), None)
    if account is None:
        raise BillingAccount.DoesNotExist(f"no billing account for user {user.pk}")
    account.user = user  # the request's user, no second read
    return account, tuple(getattr(account, name) for name in version)


AUTO_TOPUP_SHOWN = ("enabled", "threshold_cents", "amount_cents", "disabled_reason")
LAST_TOPUP_SHOWN = ("status", "failure_reason", "amount_cents", "created_at")


def _auto_topup_columns(outer: str) -> dict[str, str]:
    """The auto top-up settings and the latest top-up, read with the account so the page's
    auto top-up section costs no query of its own (see `auto_topup_shown`)."""
    row, charge = AutoTopUp._meta.db_table, AutoTopUpCharge._meta.db_table
    columns = {
        f"topup_{name}": f"SELECT {name} FROM {row} WHERE account_id = {outer}.id"
        for name in AUTO_TOPUP_SHOWN
    }
    return columns | {
        f"topup_last_{name}": f"SELECT {name} FROM {charge} WHERE account_id = {outer}.id"
        " ORDER BY id DESC LIMIT 1"
        for name in LAST_TOPUP_SHOWN
    }


def auto_topup_shown(account: BillingAccount) -> tuple[AutoTopUp | None, AutoTopUpCharge | None]:
    """The account's auto top-up settings and latest top-up: from `account_with_version`'s
    columns when the account came from there, else read now."""
    if not hasattr(account, "topup_enabled"):
        return (
            AutoTopUp.objects.filter(account=account).first(),
            AutoTopUpCharge.objects.filter(account=account).order_by("-id").first(),
        )
    return (
        _shown(AutoTopUp, account, "topup_", AUTO_TOPUP_SHOWN),
        _shown(AutoTopUpCharge, account, "topup_last_", LAST_TOPUP_SHOWN),
    )


def _shown(model, account: BillingAccount, prefix: str, names: tuple[str, ...]):
    values = {name: getattr(account, prefix + name) for name in names}
    if values[names[0]] is None:
        return None  # no row (the first column is never null in one)
    return model(**{n: model._meta.get_field(n).to_python(v) for n, v in values.items()})


def collecting(*, account: BillingAccount) -> dict:
    """What the page says about getting paid: the suspension (what was stopped, when), the
    open dunning case, and the latest refunds and disputes."""
    return {
        "suspension": suspension_summary(user=account.user),
        "dunning": DunningCase.objects.filter(
            account=account, status__in=[DunningCase.Status.OPEN, DunningCase.Status.OVERDUE]
        ).first(),
        "reversals": list(ChargeReversal.objects.filter(account=account)[:10]),
    }
