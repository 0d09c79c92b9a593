"""The billing calendar: the one place that knows BILLING_TIME_ZONE. Days and months of usage,
credits and Stripe reports are days and months of this zone; nobody else builds a ZoneInfo or
a month window."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

# How far back the nightly jobs look for days to settle: the Stripe usage sync and the prepaid
# deduction sweeper (the pod rows they are collected from are kept as long).
LOOKBACK = timedelta(days=62)


def billing_zone() -> ZoneInfo:
    return ZoneInfo(settings.BILLING_TIME_ZONE)


def billing_today(now: datetime | None = None) -> date:
    """The billing day `now` (default: this moment) falls on."""
    return (now or timezone.now()).astimezone(billing_zone()).date()


def day_start(day: date) -> datetime:
    """Midnight starting `day`, in the billing zone."""
    return datetime.combine(day, time.min, tzinfo=billing_zone())


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a billing day in UTC. In UTC, because Python subtracts two datetimes of
    the same zone by wall clock, which would give a DST day 24 hours."""
    return day_start(day).astimezone(UTC), day_start(day + timedelta(days=1)).astimezone(UTC)


def day_noon(day: date) -> datetime:
    """Noon of `day` in the billing zone: a moment safely inside the day whatever the DST."""
    return datetime.combine(day, time(12), tzinfo=billing_zone())


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def month_bounds(month: date) -> tuple[date, date]:
    """First and last day of the month containing `month`."""
    first = month.replace(day=1)
    return first, first.replace(day=days_in_month(first))


def month_window(month: date) -> tuple[datetime, datetime]:
    """[start, end) of the month containing `month`, as moments in the billing zone."""
    first, last = month_bounds(month)
    return day_start(first), day_start(last + timedelta(days=1))


def window_days(start: datetime, end: datetime) -> tuple[date, date]:
    """First and last billing day of the window [start, end)."""
    zone = billing_zone()
    return start.astimezone(zone).date(), (end.astimezone(zone) - timedelta(days=1)).date()
