"""Reads of live spend: today so far (the sampler's estimate), the month so far, and for
prepaid accounts what is available and how long it lasts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.db.models import Max, Sum
from django.utils import timezone

from billing.ledger.accounts import prepaid_active
from billing.ledger.calendar import billing_today, month_bounds
from billing.ledger.money import to_cents
from billing.models import BillingAccount
from usage.models import SpendEstimate, UsageDay

RUNWAY_DAYS = 7


@dataclass(frozen=True)
class TodaySpend:
    cost_cents: int
    # Possibly low: a cluster was unreachable, or no sampler pass for a while.
    stale: bool
    computed_at: datetime | None
    by_cluster: list[tuple[str, int]] = field(default_factory=list)
    by_resource: list[tuple[str, int]] = field(default_factory=list)
    available_cents: int | None = None  # prepaid: balance - today's estimate
    runway_days: int | None = None  # prepaid: about this many days at the last 7 days' rate


def today_spend(*, account: BillingAccount, now: datetime | None = None) -> TodaySpend:
    """Two queries at most: the account's few estimate rows (clusters x resources) and, for
    prepaid, the last 7 days' cost."""
    now = now or timezone.now()
    estimate = _estimate(account, now)
    available = runway = None
    if prepaid_active(account):
        available = account.balance_cents - estimate.cost_cents
        runway = _runway(account, billing_today(now), available)
    return TodaySpend(
        cost_cents=estimate.cost_cents,
        stale=estimate.stale,
        computed_at=estimate.computed_at,
        by_cluster=[(k, to_cents(v)) for k, v in sorted(estimate.by_cluster.items())],
        by_resource=[(k, to_cents(v)) for k, v in sorted(estimate.by_resource.items())],
        available_cents=available,
        runway_days=runway,
    )


@dataclass(frozen=True)
class _Estimate:
    cost_cents: int
    stale: bool
    computed_at: datetime | None
    by_cluster: dict[str, Decimal]
    by_resource: dict[str, Decimal]


def _estimate(account: BillingAccount, now: datetime) -> _Estimate:
    """Today's estimate rows of the account, summed; one query."""
    rows = list(
        SpendEstimate.objects.filter(user_id=account.user_id, day=billing_today(now)).values_list(
            "cluster__name", "resource", "cost", "computed_at", "stale"
        )
    )
    by_cluster: dict[str, Decimal] = defaultdict(Decimal)
    by_resource: dict[str, Decimal] = defaultdict(Decimal)
    for cluster, resource, cost, _, _ in rows:
        by_cluster[cluster] += cost
        by_resource[resource] += cost
    computed_at = max((r[3] for r in rows), default=None)
    too_old = now - timedelta(minutes=settings.SPEND_ESTIMATE_STALE_MINUTES)
    stale = any(r[4] for r in rows) or (computed_at is not None and computed_at < too_old)
    return _Estimate(
        cost_cents=to_cents(sum(by_cluster.values(), Decimal(0))),
        stale=stale,
        computed_at=computed_at,
        by_cluster=by_cluster,
        by_resource=by_resource,
    )


class SpendNow:
    """What one alert-and-cap check reads of an account's spend (after a sampler pass or a
    collection): each figure read once, when first needed, and shared by the alerts and the
    caps of that check."""

    def __init__(self, account: BillingAccount, now: datetime) -> None:
        self.account = account
        self.now = now

    @cached_property
    def _today(self) -> _Estimate:
        return _estimate(self.account, self.now)

    @property
    def estimate_cents(self) -> int:
        return self._today.cost_cents

    @property
    def stale(self) -> bool:
        return self._today.stale

    @cached_property
    def collected_cents(self) -> int:
        """The month's collected days before today (no estimate)."""
        today = billing_today(self.now)
        first, _ = month_bounds(today)
        collected = UsageDay.objects.filter(
            user_id=self.account.user_id, date__gte=first, date__lt=today
        ).aggregate(c=Sum("cost_cents"))["c"]
        return collected or 0

    @cached_property
    def last_credit_id(self) -> int:
        """The last posting that added credits: buying or being granted credits re-arms the
        low-balance alerts and may lift a prepaid pause."""
        credits = self.account.transactions.filter(amount_cents__gt=0)
        return credits.aggregate(m=Max("id"))["m"] or 0


def _runway(account: BillingAccount, today, available_cents: int) -> int | None:
    """Whole days the available credits last at the average of the last 7 collected days;
    None when nothing was spent (no rate to extrapolate)."""
    spent = UsageDay.objects.filter(
        user_id=account.user_id,
        date__gte=today - timedelta(days=RUNWAY_DAYS),
        date__lt=today,
    ).aggregate(c=Sum("cost_cents"))["c"]
    if not spent or spent <= 0:
        return None
    return max(0, available_cents * RUNWAY_DAYS // spent)
