"""The per-user daily usage report (the spec's JSON shape, plus costs)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from billing.ledger.money import round_cost
from billing.models import STORAGE_RESOURCES, Resource
from usage.models import UsageDay
from usage.services.sources import API_CALLS, STORAGE

_COMPUTE_KEYS = {
    Resource.INSTANCE_HOURS: "hours",
    Resource.CPU_HOURS: "cpuHours",
    Resource.GPU_HOURS: "gpuHours",
}
_MEMORY = Resource.MEMORY_GB_HOURS


def usage_report(*, user, day: date) -> list[dict]:
    """One object per cluster the user had usage on that day. Quantities are rounded to 6
    decimals; a quantity that was not measured is None (null in JSON), and so is a total over
    it."""
    days = (
        UsageDay.objects.filter(user=user, date=day)
        .select_related("cluster")
        .prefetch_related("line_items")
        .order_by("cluster__name")
    )
    return [_day_report(usage_day) for usage_day in days]


def _day_report(usage_day: UsageDay) -> dict:
    items = list(usage_day.line_items.all())
    instances: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    costs: dict[str, Decimal] = defaultdict(Decimal)
    for item in items:
        if item.resource in _COMPUTE_KEYS or item.resource == _MEMORY:
            costs["compute"] += item.cost or 0
            if item.resource in _COMPUTE_KEYS and item.quantity is not None:
                instances[item.instance_type][_COMPUTE_KEYS[item.resource]] += item.quantity
        elif item.resource in STORAGE_RESOURCES:
            costs["storage"] += item.cost or 0
        else:
            costs["apiCalls"] += item.cost or 0
    return {
        "date": usage_day.date.isoformat(),
        "cluster": usage_day.cluster.name,
        "compute": {
            "instances": [
                {
                    "type": itype or "unknown",
                    **{key: number(values[key]) for key in _COMPUTE_KEYS.values()},
                }
                for itype, values in sorted(instances.items())
            ]
        },
        "storage": _category(items, STORAGE),
        "apiCalls": _category(items, API_CALLS),
        "cost": {
            "compute": number(costs["compute"]),
            "storage": number(costs["storage"]),
            "apiCalls": number(costs["apiCalls"]),
            "total": number(usage_day.cost),
            "totalCents": usage_day.cost_cents,
            "currency": usage_day.currency,
        },
        "status": usage_day.status,
    }


def _category(items, resources: dict[str, str]) -> dict:
    sums: dict[str, Decimal | None] = {}
    for key, resource in resources.items():
        quantities = [i.quantity for i in items if i.resource == resource]
        sums[key] = None if any(q is None for q in quantities) else sum(quantities, Decimal(0))
    values = list(sums.values())
    total = None if any(v is None for v in values) else sum(values, Decimal(0))
    return {key: number(v) for key, v in sums.items()} | {"total": number(total)}


def number(value: Decimal | None) -> int | float | None:
    """A JSON number rounded to 6 decimals (integral values as integers); None stays null."""
    if value is None:
        return None
    rounded = round_cost(Decimal(value))
    if rounded == rounded.to_integral_value():
        return int(rounded)
    return float(rounded)
