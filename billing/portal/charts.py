"""The daily cost chart, drawn as HTML bars (heights in percent) so its labels are real CSS
pixels at any screen width: an SVG scaled to a phone shrank 11 px labels to about 5 px. Tapping
a bar shows its figure, which links to the day's lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billing.ledger.money import format_cents
from billing.portal.selectors import DailyCost

TICKS = 4
X_LABELS = 6


@dataclass(frozen=True)
class Bar:
    date: date
    cents: int | None  # None: no usage recorded that day
    height: Decimal  # percent of the plot
    title: str
    css: str
    x_label: str
    right: bool  # in the right half: its labels hang left so they stay on screen

    @property
    def anchor(self) -> str:
        return f"day-{self.date.isoformat()}"


@dataclass(frozen=True)
class Tick:
    bottom: Decimal  # percent of the plot
    label: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    ticks: list[Tick]
    total: str
    days_with_usage: int
    first: date | None
    last: date | None


def daily_cost_chart(series: list[DailyCost], currency: str) -> Chart:
    top = _nice_max(max((d.cents for d in series if d.cents is not None), default=0))
    step = max(len(series) // X_LABELS, 1)
    bars = [_bar(i, day, top, step, len(series), currency) for i, day in enumerate(series)]
    ticks = [
        Tick(bottom=Decimal(100 * k / TICKS), label=format_cents(top * k // TICKS, currency))
        for k in range(TICKS + 1)
    ]
    return Chart(
        bars=bars,
        ticks=ticks,
        total=format_cents(sum(d.cents or 0 for d in series), currency),
        days_with_usage=sum(1 for d in series if d.cents is not None),
        first=series[0].date if series else None,
        last=series[-1].date if series else None,
    )


def _bar(i: int, day: DailyCost, top: int, step: int, count: int, currency: str) -> Bar:
    height = Decimal(0)
    title = f"{day.date:%b} {day.date.day}: no usage"
    if day.cents is not None:
        height = (Decimal(day.cents) * 100 / top).quantize(Decimal("0.01"))
        note = " charged; collection incomplete, the rest not charged" if day.incomplete else ""
        title = f"{day.date:%b} {day.date.day}: {format_cents(day.cents, currency)}{note}"
    return Bar(
        date=day.date,
        cents=day.cents,
        height=height,
        title=title,
        css="bar incomplete" if day.incomplete else "bar",
        x_label=f"{day.date:%b} {day.date.day}" if i % step == 0 else "",
        right=i >= count / 2,
    )


def _nice_max(cents: int) -> int:
    """A round axis maximum in cents at or above the largest bar (1, 2 or 5 times a power of
    ten), so the ticks read $0, $25, $50..."""
    if cents <= 0:
        return 100
    magnitude = 10 ** (len(str(cents)) - 1)
    for factor in (1, 2, 5, 10):
        if magnitude * factor >= cents:
            return magnitude * factor
    return magnitude * 10
