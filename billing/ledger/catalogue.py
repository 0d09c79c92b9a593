"""The price catalogue as a file (YAML), under version control: parse, export, plan, import.

The file is the whole catalogue: every price row with its effective date. Importing it

1. parses and validates every row (known resource, non-negative price with at most 8
   decimal places, a date, no key twice); unit prices are read as exact decimals, never floats;
2. compares it with the database: rows to add, rows whose price changes, rows to remove;
3. finds the billed days the differences would reprice: for each difference, the days from its
   effective date until the next row of the same key, on which usage of that resource was
   already collected (asked through `billed_days`, which the usage app answers: the money core
   does not read usage tables);
4. refuses when there are such days, unless forced with a reason;
5. applies the differences in one transaction and records a PriceImport row (the audit).

The same file imported again changes nothing and records nothing: the import is idempotent.
Past usage is not repriced by an import; a forced change applies when those days are
collected again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import yaml
from django.db import transaction

from billing.ledger.errors import BillingError
from billing.models import RESOURCE_UNITS, UNIT_PRICE_FIELD, Price, PriceImport, Resource

# (resource, first day, first day after or None) -> the billed days in that window.
BilledDays = Callable[[str, date, date | None], list[date]]
Key = tuple[str, str, date]  # resource, instance type, effective from

HEADER = """\
# Hopsbill price catalogue: every price with the day it takes effect.
# Export: manage.py prices export > prices.yaml
# Import: manage.py prices import prices.yaml [--dry-run]
# unit_price is in the billing currency per unit (storage per GB-month, API calls per 1,000).
# A row applies from effective_from until the next row with the same resource and instance type.
"""
EXAMPLE_MARK = "EXAMPLE PRICES"
ROW_FIELDS = {"resource", "instance_type", "unit_price", "effective_from", "unit"}
EXAMPLE_CATALOGUE = "catalogue/prices.example.yaml"  # relative to the repository root


class CatalogueError(BillingError):
    """The file is not a valid catalogue, or the import is refused; the message says why."""


@dataclass(frozen=True)
class CatalogueRow:
    resource: str
    instance_type: str
    unit_price: Decimal
    effective_from: date

    @property
    def key(self) -> Key:
        return (self.resource, self.instance_type, self.effective_from)

    def describe(self) -> str:
        kind = f"{self.resource}[{self.instance_type}]" if self.instance_type else self.resource
        return f"{kind} from {self.effective_from}"


@dataclass
class CataloguePlan:
    added: list[CatalogueRow] = field(default_factory=list)
    changed: list[tuple[CatalogueRow, Decimal]] = field(default_factory=list)  # new row, old
    removed: list[CatalogueRow] = field(default_factory=list)
    unchanged: int = 0
    billed_days: dict[str, list[date]] = field(default_factory=dict)  # row described -> days
    applied: PriceImport | None = None
    example: bool = False  # the file says `example: true`: not real prices

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def lines(self) -> list[str]:
        """What the import does, one line per row, for the operator."""
        out = [f"add     {r.describe()}: {r.unit_price}" for r in self.added]
        out += [f"change  {r.describe()}: {old} -> {r.unit_price}" for r, old in self.changed]
        out += [f"remove  {r.describe()}: {r.unit_price}" for r in self.removed]
        return out


# --- parsing ----------------------------------------------------------------------------------


class _DecimalLoader(yaml.SafeLoader):
    """YAML with numbers as exact decimals: `unit_price: 0.192` is Decimal("0.192")."""


def _decimal(loader, node) -> Decimal | str:
    text = loader.construct_scalar(node)
    try:
        return Decimal(text.replace("_", ""))
    except InvalidOperation:
        return text  # .inf, .nan: refused as "not a number" with the row named


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


def _load(text: str) -> dict:
    try:
        data = yaml.load(text, Loader=_DecimalLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise CatalogueError(f"The file is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("prices"), list):
        raise CatalogueError("The file needs a top-level `prices:` list.")
    unknown = set(data) - {"prices", "example"}
    if unknown:
        raise CatalogueError(f"Unknown top-level field(s): {', '.join(sorted(unknown))}.")
    return data


def price_catalogue_parse(*, text: str) -> list[CatalogueRow]:
    """The rows of a catalogue file; CatalogueError naming the row and field otherwise."""
    data = _load(text)
    rows = [_row(number, raw) for number, raw in enumerate(data["prices"], start=1)]
    seen: set[Key] = set()
    for row in rows:
        if row.key in seen:
            raise CatalogueError(f"{row.describe()} appears twice.")
        seen.add(row.key)
    return rows


def _row(number: int, raw) -> CatalogueRow:
    where = f"prices[{number}]"
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: each price is a mapping of resource, unit_price, ...")
    unknown = set(raw) - ROW_FIELDS
    if unknown:
        raise CatalogueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}.")
    resource = raw.get("resource")
    if resource not in Resource.values:
        raise CatalogueError(
            f"{where}: resource {resource!r} is not one of {', '.join(Resource.values)}."
        )
    instance_type = raw.get("instance_type") or ""
    if not isinstance(instance_type, str) or len(instance_type) > 64:
        raise CatalogueError(f"{where}: instance_type must be text (at most 64 characters).")
    if "unit" in raw and raw["unit"] != RESOURCE_UNITS[Resource(resource)]:
        unit = RESOURCE_UNITS[Resource(resource)]
        raise CatalogueError(f"{where}: {resource} is priced per {unit}, not {raw['unit']!r}.")
    effective_from = raw.get("effective_from")
    if not isinstance(effective_from, date) or isinstance(effective_from, datetime):
        raise CatalogueError(f"{where}: effective_from must be a date (YYYY-MM-DD).")
    return CatalogueRow(
        resource, instance_type, _unit_price(where, raw.get("unit_price")), effective_from
    )


def _unit_price(where: str, raw) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, Decimal | int | str):
        raise CatalogueError(f"{where}: unit_price must be a number, e.g. 0.192.")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation as exc:
        raise CatalogueError(f"{where}: unit_price {raw!r} is not a number.") from exc
    places = UNIT_PRICE_FIELD["decimal_places"]
    whole_digits = UNIT_PRICE_FIELD["max_digits"] - places
    if not value.is_finite() or value < 0:
        raise CatalogueError(f"{where}: unit_price must be zero or more.")
    if value != value.quantize(Decimal(1).scaleb(-places)) or value >= 10**whole_digits:
        raise CatalogueError(f"{where}: unit_price has more than {places} decimal places.")
    return value.quantize(Decimal(1).scaleb(-places))


# --- export -----------------------------------------------------------------------------------


def price_catalogue_export(*, header: str = HEADER) -> str:
    """Every catalogue row as a file that `price_catalogue_import` takes back unchanged."""
    lines = [header.rstrip("\n"), "prices:"]
    for price in Price.objects.order_by("resource", "instance_type", "effective_from"):
        lines += [
            f"  - resource: {price.resource}",
            f"    instance_type: {_quoted(price.instance_type)}",
            f"    unit: {_quoted(price.unit)}",
            f"    unit_price: {_plain(price.unit_price)}",
            f"    effective_from: {price.effective_from.isoformat()}",
        ]
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    return yaml.safe_dump(text, default_style='"').strip().removesuffix("\n...")


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.0"  # stays a decimal number in YAML


# --- plan and import --------------------------------------------------------------------------


def price_catalogue_plan(*, rows: list[CatalogueRow], billed_days: BilledDays) -> CataloguePlan:
    """What importing `rows` would change, and the billed days those changes would reprice."""
    current = {
        (p.resource, p.instance_type, p.effective_from): p.unit_price for p in Price.objects.all()
    }
    plan = CataloguePlan()
    wanted = {row.key: row for row in rows}
    for key, row in wanted.items():
        if key not in current:
            plan.added.append(row)
        elif current[key] != row.unit_price:
            plan.changed.append((row, current[key]))
        else:
            plan.unchanged += 1
    plan.removed = [
        CatalogueRow(resource, instance_type, price, effective_from)
        for (resource, instance_type, effective_from), price in current.items()
        if (resource, instance_type, effective_from) not in wanted
    ]
    _billed(plan, set(current) | set(wanted), billed_days)
    return plan


def _billed(plan: CataloguePlan, keys: set[Key], billed_days: BilledDays) -> None:
    """Each difference reprices its key's days from its date to the next row of that key."""
    differences = plan.added + [row for row, _ in plan.changed] + plan.removed
    for row in differences:
        later = [k[2] for k in keys if k[:2] == row.key[:2] and k[2] > row.effective_from]
        days = billed_days(row.resource, row.effective_from, min(later, default=None))
        if days:
            plan.billed_days[row.describe()] = sorted(days)


def price_catalogue_import(
    *,
    text: str,
    billed_days: BilledDays,
    performed_by: str,
    source: str,
    dry_run: bool = False,
    force: bool = False,
    reason: str = "",
) -> CataloguePlan:
    """Import a catalogue file (see the module docstring); returns what changed (or would)."""
    rows = price_catalogue_parse(text=text)
    example = _load(text).get("example") is True
    if force and not reason.strip():
        raise CatalogueError("--force needs a --reason, recorded with the import.")
    with transaction.atomic():
        plan = price_catalogue_plan(rows=rows, billed_days=billed_days)
        plan.example = example
        if plan.billed_days and not force:
            raise CatalogueError(_refusal(plan))
        if dry_run or plan.is_empty:
            return plan
        _apply(plan)
        plan.applied = _record(plan, text, performed_by, source, reason if force else "")
    return plan


def _refusal(plan: CataloguePlan) -> str:
    parts = [
        f"{what}: {len(days)} billed day(s), {days[0]} to {days[-1]}"
        for what, days in plan.billed_days.items()
    ]
    return (
        "The file changes prices of days already billed (" + "; ".join(parts) + "). "
        "Give those changes a later effective_from, or rerun with --force --reason '...' "
        "(recorded) if the billed days must change when they are collected again."
    )


def _apply(plan: CataloguePlan) -> None:
    for row in plan.removed:
        Price.objects.filter(
            resource=row.resource,
            instance_type=row.instance_type,
            effective_from=row.effective_from,
        ).delete()
    for row, _ in plan.changed:
        Price.objects.filter(
            resource=row.resource,
            instance_type=row.instance_type,
            effective_from=row.effective_from,
        ).update(unit_price=row.unit_price)
    Price.objects.bulk_create(
        Price(
            resource=row.resource,
            instance_type=row.instance_type,
            unit_price=row.unit_price,
            effective_from=row.effective_from,
        )
        for row in plan.added
    )


def _record(plan: CataloguePlan, text: str, performed_by: str, source: str, reason: str):
    return PriceImport.objects.create(
        performed_by=performed_by[:150],
        source=source[:255],
        checksum=hashlib.sha256(text.encode()).hexdigest(),
        added=len(plan.added),
        changed=len(plan.changed),
        removed=len(plan.removed),
        changes=plan.lines(),
        forced=bool(plan.billed_days),
        reason=reason,
        billed_days={
            what: [d.isoformat() for d in days] for what, days in plan.billed_days.items()
        },
    )
