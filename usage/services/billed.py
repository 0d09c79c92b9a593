"""Which days already carry priced usage: what the price catalogue import must not reprice
without being forced (billing.ledger.catalogue asks through its `billed_days` argument)."""

from __future__ import annotations

from datetime import date

from usage.models import UsageLineItem


def usage_billed_days(resource: str, start: date, end: date | None) -> list[date]:
    """The days in [start, end) (end None: open) on which usage of `resource` was already
    collected and priced: what a change of that resource's catalogue price would reprice.
    Shaped for billing.ledger.catalogue's `billed_days`."""
    items = UsageLineItem.objects.filter(
        resource=resource, unit_price__isnull=False, usage_day__date__gte=start
    )
    if end is not None:
        items = items.filter(usage_day__date__lt=end)
    return list(
        items.values_list("usage_day__date", flat=True).distinct().order_by("usage_day__date")
    )
