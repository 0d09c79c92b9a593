"""Builders of page and API test data (also used by bench/pages.py): usage across clusters
and a long ledger, written with bulk_create so a year of data takes a second."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from billing.ledger.money import to_cents
from billing.ledger.prices import cost_of
from billing.models import BillingAccount, CreditTransaction, Funding, Resource, TransactionKind
from clusters.models import Cluster
from usage.models import CollectionStatus, UsageDay, UsageLineItem

# (project, resource, instance_type, quantity per day or None = not measured, unit price)
DAY_LINES = [
    ("alpha", Resource.INSTANCE_HOURS, "m5.xlarge", Decimal("24"), Decimal("0.192")),
    ("alpha", Resource.CPU_HOURS, "", Decimal("96"), Decimal("0.04")),
    ("alpha", Resource.STORAGE_MODELS, "", Decimal("20"), Decimal("0.05")),
    ("alpha", Resource.API_CALLS_MODEL_SERVING, "", None, Decimal("0.02")),
    ("beta", Resource.GPU_HOURS, "", Decimal("2.5"), Decimal("0.9")),
    ("beta", Resource.STORAGE_DATASETS, "", Decimal("30"), Decimal("0.023")),
]


def clusters_make(count: int, prefix: str = "c") -> list[Cluster]:
    return [
        Cluster.objects.get_or_create(
            name=f"{prefix}{i + 1}",
            defaults={"hopsworks_url": f"https://{prefix}{i + 1}.invalid/api"},
        )[0]
        for i in range(count)
    ]


def line_cost(resource: str, quantity: Decimal | None, price: Decimal, day: date):
    """What collection prices a line at (per GB-month, per 1,000 calls...)."""
    if quantity is None:
        return None
    return cost_of(resource=resource, quantity=quantity, unit_price=price, day=day)


def day_cost(day: date) -> Decimal:
    """The cost of one cluster-day of DAY_LINES."""
    return sum(
        (line_cost(r, q, p, day) for _, r, _, q, p in DAY_LINES if q is not None), Decimal(0)
    )


def usage_make(*, user, clusters: list[Cluster], first: date, last: date) -> int:
    """One UsageDay per cluster per day with DAY_LINES; returns the total cost in cents."""
    days = []
    day = first
    while day <= last:
        for cluster in clusters:
            cost = day_cost(day)
            days.append(
                UsageDay(
                    user=user,
                    cluster=cluster,
                    date=day,
                    status=CollectionStatus.COMPLETE,
                    cost=cost,
                    cost_cents=to_cents(cost),
                )
            )
        day += timedelta(days=1)
    created = UsageDay.objects.bulk_create(days, batch_size=2000)
    lines = [
        UsageLineItem(
            usage_day=usage_day,
            project=project,
            resource=resource,
            instance_type=itype,
            quantity=qty,
            unit_price=price,
            cost=line_cost(resource, qty, price, usage_day.date),
        )
        for usage_day in created
        for project, resource, itype, qty, price in DAY_LINES
    ]
    UsageLineItem.objects.bulk_create(lines, batch_size=5000)
    return sum(d.cost_cents for d in created)


def ledger_make(*, account: BillingAccount, rows: int, start_cents: int = 0) -> int:
    """`rows` ledger postings (a purchase then usage debits), balance kept consistent."""
    balance = start_cents
    txs = []
    for i in range(rows):
        amount = 100_00 if i % 10 == 0 else -7_00
        balance += amount
        txs.append(
            CreditTransaction(
                account=account,
                kind=TransactionKind.PURCHASE if amount > 0 else TransactionKind.USAGE,
                amount_cents=amount,
                balance_after_cents=balance,
                idempotency_key=f"test-ledger:{account.pk}:{i}",
                funding=Funding.PAID if amount > 0 else "",
                source_ref=f"bulk:{i}",
            )
        )
    created = CreditTransaction.objects.bulk_create(txs, batch_size=2000)
    BillingAccount.objects.filter(pk=account.pk).update(balance_cents=balance)
    account.balance_cents = balance
    return len(created)
