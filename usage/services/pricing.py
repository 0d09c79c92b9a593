"""Pricing a cluster-day's measured quantities: the one code path the nightly collection and
the live estimate (usage/services/estimate.py) share, so both price a pod the same way."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Q

from billing.ledger import PriceNotFound, cost_of, price_lookup
from billing.ledger.money import round_cost
from billing.models import BillingAccount, CustomPrice
from usage.services.ownership import ProjectOwner
from usage.services.rollup import ComputeRollup
from usage.services.sources import Measured


@dataclass(frozen=True)
class Line:
    project: str
    resource: str
    instance_type: str
    quantity: Decimal | None
    unit_price: Decimal | None
    cost: Decimal | None


class Pricer:
    """Prices in effect on the day, looked up once per resource and type, and once more per
    account only for the few accounts with a custom price covering the day."""

    def __init__(self, day: date, accounts: dict[int, BillingAccount]) -> None:
        self.day, self.cache, self.missing = day, {}, set()
        custom = set(
            CustomPrice.objects.filter(account__in=list(accounts.values()), effective_from__lte=day)
            .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=day))
            .values_list("account_id", flat=True)
        )
        self.accounts = {uid: a for uid, a in accounts.items() if a.pk in custom}

    def line(self, user_id, project, resource, instance_type, quantity) -> Line:
        if quantity is None:
            return Line(project, resource, instance_type, None, None, None)
        account = self.accounts.get(user_id)
        key = (account.pk if account else None, resource, instance_type)
        if key not in self.cache:
            try:
                self.cache[key] = price_lookup(
                    account=account, resource=resource, day=self.day, instance_type=instance_type
                )
            except PriceNotFound:
                self.cache[key] = None
                self.missing.add(f"{resource} {instance_type}".strip())
        price = self.cache[key]
        quantity = round_cost(quantity)
        cost = None
        if price is not None:
            cost = cost_of(resource=resource, quantity=quantity, unit_price=price, day=self.day)
        return Line(project, resource, instance_type, quantity, price, cost)


def lines_price(
    *,
    day: date,
    owners: dict[str, ProjectOwner],
    rollup: ComputeRollup,
    storage: Measured,
    api_calls: Measured,
) -> tuple[dict[int | None, list[Line]], list[str]]:
    """Every measured quantity of the cluster-day as a priced line, per user (None:
    unattributed), with the prices in effect on the day. Also the problems (missing prices)."""
    user_of_project = {owner.project: owner.user_id for owner in owners.values()}
    user_ids = set(user_of_project.values())
    accounts = {a.user_id: a for a in BillingAccount.objects.filter(user_id__in=user_ids)}
    pricer = Pricer(day, accounts)
    lines: dict[int | None, list[Line]] = defaultdict(list)
    compute: dict[tuple[str, str], dict[str, Decimal]] = {}
    for (namespace, itype), totals in rollup.totals.items():
        slot = compute.setdefault((owners[namespace].project, itype), defaultdict(Decimal))
        for resource, hours in totals.items():
            slot[resource] += hours
    for (project, itype), totals in sorted(compute.items()):
        user_id = user_of_project[project]
        for resource, hours in totals.items():
            lines[user_id].append(pricer.line(user_id, project, resource, itype, hours))
    for project, user_id in sorted(user_of_project.items(), key=lambda kv: kv[0]):
        for measured in (storage, api_calls):
            for resource, quantity in measured.get(project, {}).items():
                lines[user_id].append(pricer.line(user_id, project, resource, "", quantity))
    problems = [f"no price for {', '.join(sorted(pricer.missing))}"] if pricer.missing else []
    return lines, problems
