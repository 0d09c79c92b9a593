"""A month of usage as a statement a person can check by hand: every line's quantity in the
unit its price is per, the price with its unit, and its cost in whole cents allocated so that
lines add up to their usage day (the cents the ledger and Stripe saw), days to the month, and
the breakdowns by resource, project and cluster to the same month total. The page, the CSV and
the API all read this, so they agree to the cent. Two queries for any month.

Only complete usage days are charged (prepaid deducts them, postpaid reports them to Stripe);
a partial day is shown with what was measured so far and marked not charged."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from billing.ledger.calendar import month_bounds
from billing.ledger.money import allocate_cents, to_cents
from billing.ledger.prices import billed_quantity
from billing.models import MEASURED_UNITS, RESOURCE_UNITS, Resource
from usage.models import CollectionStatus, UsageDay, UsageLineItem

NOT_MEASURED = "Not measured"


@dataclass(frozen=True)
class Line:
    project: str
    resource: str
    label: str
    instance_type: str
    quantity: Decimal | None  # in measured_unit; None: not measured
    measured_unit: str
    billed_quantity: Decimal | None  # in price_unit
    price_unit: str
    unit_price: Decimal | None
    cost: Decimal | None  # exact (6 places), before allocation
    cost_cents: int | None  # allocated; None: not measured

    @property
    def not_measured(self) -> bool:
        return self.quantity is None


@dataclass
class ClusterDay:
    """One usage day: a user's usage on one cluster on one date (one ledger posting)."""

    usage_day_id: int
    cluster: str
    status: str
    cost_cents: int
    lines: list[Line] = field(default_factory=list)

    @property
    def charged(self) -> bool:
        return self.status == CollectionStatus.COMPLETE


@dataclass
class Day:
    date: date
    clusters: list[ClusterDay] = field(default_factory=list)

    @property
    def charged_cents(self) -> int:
        return sum(c.cost_cents for c in self.clusters if c.charged)

    @property
    def not_charged_cents(self) -> int:
        return sum(c.cost_cents for c in self.clusters if not c.charged)

    @property
    def incomplete(self) -> bool:
        return any(not c.charged for c in self.clusters)

    @property
    def anchor(self) -> str:
        return f"day-{self.date.isoformat()}"


@dataclass
class Share:
    """One row of a breakdown (a resource, a project or a cluster) of the charged total."""

    key: str
    label: str
    resource: str = ""
    instance_type: str = ""
    cost_cents: int = 0
    share: Decimal = Decimal(0)  # percent of the month, one decimal
    quantity: Decimal | None = None
    measured_unit: str = ""
    billed_quantity: Decimal | None = None
    price_unit: str = ""
    unit_prices: set[Decimal] = field(default_factory=set)
    lines: int = 0
    not_measured_lines: int = 0

    @property
    def not_measured(self) -> bool:
        return self.lines > 0 and self.not_measured_lines == self.lines

    @property
    def partly_measured(self) -> bool:
        return 0 < self.not_measured_lines < self.lines

    @property
    def unit_price(self) -> Decimal | None:
        """The price when one applied all month (None: it changed, or nothing measured)."""
        return next(iter(self.unit_prices)) if len(self.unit_prices) == 1 else None


@dataclass
class Statement:
    first: date
    last: date
    days: list[Day]  # newest first
    total_cents: int  # charged: the sum of the complete days
    not_charged_cents: int
    through: date | None  # last charged day
    by_resource: list[Share]
    by_project: list[Share]
    by_cluster: list[Share]

    @property
    def incomplete_days(self) -> list[Day]:
        return [d for d in self.days if d.incomplete]

    def forecast_cents(self, *, today: date) -> int:
        """Straight line from the charged days to the month's end (the total once it is over)."""
        if self.through is None or today > self.last:
            return self.total_cents
        elapsed = (self.through - self.first).days + 1
        return to_cents(Decimal(self.total_cents) / 100 / elapsed * self.last.day)


def month_statement(*, user, month: date, today: date) -> Statement:
    """The statement of the month containing `month`, up to `today`. Two queries."""
    first, last = month_bounds(month)
    usage_days = list(
        UsageDay.objects.filter(user=user, date__gte=first, date__lte=min(last, today))
        .order_by("-date", "cluster__name")
        .values_list("id", "date", "cluster__name", "status", "cost_cents")
    )
    items = (
        UsageLineItem.objects.filter(
            usage_day__user=user, usage_day__date__gte=first, usage_day__date__lte=min(last, today)
        )
        .order_by("usage_day_id", "project", "resource", "instance_type")
        .values_list(
            "usage_day_id", "project", "resource", "instance_type", "quantity", "unit_price", "cost"
        )
    )
    return statement_build(first=first, last=last, usage_days=usage_days, items=items)


def statement_build(*, first: date, last: date, usage_days: Iterable, items: Iterable) -> Statement:
    days: dict[date, Day] = {}
    by_id: dict[int, tuple[ClusterDay, date]] = {}
    for pk, day, cluster, status, cost_cents in usage_days:
        cluster_day = ClusterDay(
            usage_day_id=pk, cluster=cluster, status=status, cost_cents=cost_cents
        )
        days.setdefault(day, Day(date=day)).clusters.append(cluster_day)
        by_id[pk] = (cluster_day, day)
    raw: dict[int, list[tuple]] = defaultdict(list)
    for pk, *rest in items:
        raw[pk].append(rest)
    for pk, rows in raw.items():
        if pk in by_id:
            cluster_day, day = by_id[pk]
            cluster_day.lines = _lines(rows, day, cluster_day.cost_cents)
    charged = [c for d in days.values() for c in d.clusters if c.charged]
    total = sum(c.cost_cents for c in charged)
    through = max(
        (d.date for d in days.values() if any(c.charged for c in d.clusters)), default=None
    )
    return Statement(
        first=first,
        last=last,
        days=list(days.values()),
        total_cents=total,
        not_charged_cents=sum(d.not_charged_cents for d in days.values()),
        through=through,
        by_resource=_breakdown(charged, total, _resource_key),
        by_project=_breakdown(charged, total, lambda line: (line.project, line.project)),
        by_cluster=_cluster_breakdown(charged, total),
    )


def _lines(rows: list[tuple], day: date, day_cents: int) -> list[Line]:
    measured = [i for i, row in enumerate(rows) if row[3] is not None]
    cents = allocate_cents([rows[i][5] or Decimal(0) for i in measured], day_cents)
    allocated = dict(zip(measured, cents, strict=True))
    return [_line(row, day, allocated.get(i)) for i, row in enumerate(rows)]


def _line(row: tuple, day: date, cost_cents: int | None) -> Line:
    project, resource, instance_type, quantity, unit_price, cost = row
    return Line(
        project=project,
        resource=resource,
        label=resource_label(resource),
        instance_type=instance_type,
        quantity=quantity,
        measured_unit=measured_unit(resource),
        billed_quantity=None
        if quantity is None
        else billed_quantity(resource=resource, quantity=quantity, day=day),
        price_unit=price_unit(resource),
        unit_price=unit_price,
        cost=cost,
        cost_cents=cost_cents,
    )


def _resource_key(line: Line) -> tuple[str, str]:
    key = f"{line.resource}:{line.instance_type}" if line.instance_type else line.resource
    label = f"{line.label} ({line.instance_type})" if line.instance_type else line.label
    return key, label


def _breakdown(cluster_days: list[ClusterDay], total: int, key_of) -> list[Share]:
    shares: dict[str, Share] = {}
    for cluster_day in cluster_days:
        for line in cluster_day.lines:
            key, label = key_of(line)
            share = shares.get(key)
            if share is None:
                share = shares[key] = Share(key=key, label=label)
                if key_of is _resource_key:
                    share.resource, share.instance_type = line.resource, line.instance_type
            _add_line(share, line, same_unit=key_of is _resource_key)
    return _ranked(shares.values(), total)


def _add_line(share: Share, line: Line, *, same_unit: bool) -> None:
    share.lines += 1
    if line.quantity is None:
        share.not_measured_lines += 1
        return
    share.cost_cents += line.cost_cents or 0
    if same_unit:
        share.quantity = (share.quantity or Decimal(0)) + line.quantity
        share.billed_quantity = (share.billed_quantity or Decimal(0)) + line.billed_quantity
        share.measured_unit, share.price_unit = line.measured_unit, line.price_unit
        if line.unit_price is not None:
            share.unit_prices.add(line.unit_price)


def _cluster_breakdown(cluster_days: list[ClusterDay], total: int) -> list[Share]:
    shares: dict[str, Share] = {}
    for cluster_day in cluster_days:
        share = shares.setdefault(
            cluster_day.cluster, Share(key=cluster_day.cluster, label=cluster_day.cluster)
        )
        share.cost_cents += cluster_day.cost_cents
        share.lines += 1
    return _ranked(shares.values(), total)


def _ranked(shares: Iterable[Share], total: int) -> list[Share]:
    ranked = sorted(shares, key=lambda s: (-s.cost_cents, s.not_measured, s.label))
    for share in ranked:
        if total:
            share.share = (Decimal(share.cost_cents) * 100 / total).quantize(Decimal("0.1"))
    return ranked


def resource_label(resource: str) -> str:
    try:
        return Resource(resource).label
    except ValueError:
        return resource


def measured_unit(resource: str) -> str:
    try:
        return MEASURED_UNITS[Resource(resource)]
    except (ValueError, KeyError):
        return ""


def price_unit(resource: str) -> str:
    try:
        return RESOURCE_UNITS[Resource(resource)]
    except (ValueError, KeyError):
        return ""
