"""Read queries for the billing page and the billing API. Every aggregate is computed in the
database (one query per panel), so the page costs the same for a day of usage or a year.

Costs here are Decimal (6 places, as stored); conversion to cents for display goes through
billing.ledger.money."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, Max, Q, Sum

from accounts.models import ProvisioningRun
from billing.ledger.calendar import month_bounds
from billing.ledger.money import round_cost
from billing.models import MEASURED_UNITS, BillingAccount, CreditTransaction, Resource
from usage.models import CollectionStatus, UsageDay, UsageLineItem

LEDGER_PAGE_SIZE = 25
CHART_WINDOWS = (30, 90)
INVOICE_LIMIT = 12
ZERO = Decimal(0)


@dataclass(frozen=True)
class ResourceCost:
    resource: str
    label: str
    unit: str
    quantity: Decimal | None
    cost: Decimal
    not_measured: int


@dataclass(frozen=True)
class ClusterCost:
    cluster: str
    cost: Decimal


@dataclass(frozen=True)
class MonthToDate:
    month_start: date
    month_end: date
    through: date | None  # last day with usage this month
    total: Decimal
    forecast: Decimal
    by_resource: list[ResourceCost]
    by_cluster: list[ClusterCost]


@dataclass(frozen=True)
class DailyCost:
    date: date
    cost: Decimal | None  # None: no usage recorded that day
    incomplete: bool = False


@dataclass(frozen=True)
class UsageRow:
    project: str
    resource: str
    label: str
    unit: str
    instance_type: str
    quantity: Decimal | None
    cost: Decimal | None
    not_measured: bool
    partly_measured: bool


@dataclass
class UsageDayRow:
    date: date
    cost: Decimal
    incomplete: bool
    projects: dict[str, list[UsageRow]] = field(default_factory=dict)


PROVISIONING_IN_PROGRESS = {"pending", "running", "waiting"}


def provisioning_status(*, user) -> str | None:
    """The status of the user's signup provisioning run, None when there is none (users made
    by staff or the demo)."""
    return ProvisioningRun.objects.filter(user=user).values_list("status", flat=True).first()


def account_for(user) -> BillingAccount:
    return BillingAccount.objects.select_related("user").get(user=user)


def month_to_date(*, user, today: date) -> MonthToDate:
    """Cost so far this month by resource and by cluster, and a straight-line forecast from
    the days measured so far to the month's end. Two queries."""
    first, last = month_bounds(today)
    days = UsageDay.objects.filter(user=user, date__gte=first, date__lte=today)
    per_resource = (
        UsageLineItem.objects.filter(usage_day__in=days)
        .values("resource")
        .annotate(
            total_quantity=Sum("quantity"),
            total_cost=Sum("cost"),
            not_measured=Count("id", filter=Q(quantity__isnull=True)),
        )
        .order_by("resource")
    )
    by_resource = [
        ResourceCost(
            resource=row["resource"],
            label=_label(row["resource"]),
            unit=_unit(row["resource"]),
            quantity=row["total_quantity"],
            cost=row["total_cost"] or ZERO,
            not_measured=row["not_measured"],
        )
        for row in per_resource
    ]
    per_cluster = list(
        days.values("cluster__name")
        .annotate(total_cost=Sum("cost"), last_day=Max("date"))
        .order_by("cluster__name")
    )
    by_cluster = [
        ClusterCost(cluster=r["cluster__name"], cost=r["total_cost"] or ZERO) for r in per_cluster
    ]
    total = sum((c.cost for c in by_cluster), ZERO)
    through = max((r["last_day"] for r in per_cluster), default=None)
    return MonthToDate(
        month_start=first,
        month_end=last,
        through=through,
        total=total,
        forecast=_forecast(total, first, last, through),
        by_resource=by_resource,
        by_cluster=by_cluster,
    )


def _forecast(total: Decimal, first: date, last: date, through: date | None) -> Decimal:
    if through is None:
        return ZERO
    elapsed = (through - first).days + 1
    return round_cost(total / elapsed * last.day)


def daily_costs(*, user, today: date, days: int) -> list[DailyCost]:
    """One entry per day of the window ending yesterday-or-today, with gaps as None. One query."""
    start = today - timedelta(days=days - 1)
    rows = (
        UsageDay.objects.filter(user=user, date__gte=start, date__lte=today)
        .values("date")
        .annotate(
            total_cost=Sum("cost"),
            incomplete=Count("id", filter=~Q(status=CollectionStatus.COMPLETE)),
        )
        .order_by("date")
    )
    by_date = {r["date"]: r for r in rows}
    series = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        row = by_date.get(day)
        series.append(
            DailyCost(
                date=day,
                cost=(row["total_cost"] or ZERO) if row else None,
                incomplete=bool(row and row["incomplete"]),
            )
        )
    return series


def usage_by_day(*, user, first: date, last: date) -> list[UsageDayRow]:
    """Usage of each day in [first, last], newest first, with lines per project and resource
    summed over clusters. A quantity nobody measured stays None ("not measured"). Two queries."""
    day_rows = (
        UsageDay.objects.filter(user=user, date__gte=first, date__lte=last)
        .values("date")
        .annotate(
            total_cost=Sum("cost"),
            incomplete=Count("id", filter=~Q(status=CollectionStatus.COMPLETE)),
        )
        .order_by("-date")
    )
    result = {
        r["date"]: UsageDayRow(
            date=r["date"], cost=r["total_cost"] or ZERO, incomplete=bool(r["incomplete"])
        )
        for r in day_rows
    }
    if not result:
        return []
    lines = (
        UsageLineItem.objects.filter(
            usage_day__user=user, usage_day__date__gte=first, usage_day__date__lte=last
        )
        .values("usage_day__date", "project", "resource", "instance_type")
        .annotate(
            total_quantity=Sum("quantity"),
            total_cost=Sum("cost"),
            measured=Count("quantity"),
            lines=Count("id"),
        )
        .order_by("usage_day__date", "project", "resource", "instance_type")
    )
    for line in lines:
        day = result.get(line["usage_day__date"])
        if day is None:
            continue
        day.projects.setdefault(line["project"], []).append(
            UsageRow(
                project=line["project"],
                resource=line["resource"],
                label=_label(line["resource"]),
                unit=_unit(line["resource"]),
                instance_type=line["instance_type"],
                quantity=line["total_quantity"],
                cost=line["total_cost"],
                not_measured=line["measured"] == 0,
                partly_measured=0 < line["measured"] < line["lines"],
            )
        )
    return list(result.values())


def usage_lines_for_export(*, user, first: date, last: date):
    """Every line item of the month, one row each, for the CSV export (streamed)."""
    return (
        UsageLineItem.objects.filter(
            usage_day__user=user, usage_day__date__gte=first, usage_day__date__lte=last
        )
        .order_by("usage_day__date", "usage_day__cluster__name", "project", "resource")
        .values_list(
            "usage_day__date",
            "usage_day__cluster__name",
            "usage_day__status",
            "project",
            "resource",
            "instance_type",
            "quantity",
            "unit_price",
            "cost",
        )
    )


def ledger_page(*, account: BillingAccount, page: int | str | None) -> Page:
    """One page of the ledger, newest first (a count and a page query)."""
    rows = CreditTransaction.objects.filter(account=account).only(
        "kind",
        "amount_cents",
        "balance_after_cents",
        "funding",
        "reason",
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


def _label(resource: str) -> str:
    try:
        return Resource(resource).label
    except ValueError:
        return resource


def _unit(resource: str) -> str:
    try:
        return MEASURED_UNITS[Resource(resource)]
    except (ValueError, KeyError):
        return ""


def account_with_version(user) -> tuple[BillingAccount, tuple]:
    """The user's account and, in the same query, everything else the billing page shows that
    can change: the latest ledger posting (the ledger is append-only), a fingerprint of the
    user's usage days (a collection rewrites a day's cost, status, run and updated_at together
    with its line items), the provisioning status and the mirrored invoices. Any posting or
    (re)collection changes the version, so a cache keyed by it never shows stale money."""
    from djstripe.models import Invoice

    outer = BillingAccount._meta.db_table
    tx = CreditTransaction._meta.db_table
    day = UsageDay._meta.db_table
    run = ProvisioningRun._meta.db_table
    invoice = Invoice._meta.db_table
    version = {
        "v_ledger": f"SELECT id FROM {tx} WHERE account_id = {outer}.id ORDER BY id DESC LIMIT 1",
        "v_usage": "SELECT concat_ws('/', max(updated_at), count(*), max(collection_run_id),"
        f" sum(cost)) FROM {day} WHERE user_id = {outer}.user_id",
        "v_provisioning": f"SELECT status FROM {run} WHERE user_id = {outer}.user_id"
        " ORDER BY created_at DESC LIMIT 1",
        "v_invoices": f"SELECT concat_ws('/', max(djstripe_updated), count(*)) FROM {invoice}"
        f" WHERE customer_id = {outer}.stripe_customer_id",
    }
    columns = ", ".join(f"({sql}) AS {name}" for name, sql in version.items())
    # A raw query: the ORM's compile of this query cost more than the database's work.
    rows = BillingAccount.objects.raw(
        f"SELECT {outer}.*, {columns} FROM {outer} WHERE {outer}.user_id = %s", [user.pk]
    )
    account = next(iter(rows), None)
    if account is None:
        raise BillingAccount.DoesNotExist(f"no billing account for user {user.pk}")
    account.user = user  # the request's user, no second read
    return account, tuple(getattr(account, name) for name in version)
