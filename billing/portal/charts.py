"""Geometry of the server-rendered SVG chart of daily cost. Floats here are screen coordinates
only (a display edge); the amounts shown in labels are formatted from the Decimal costs."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from billing.ledger.money import format_cents, to_cents
from billing.portal.selectors import DailyCost

WIDTH = 720
HEIGHT = 240
PAD_LEFT = 64
PAD_RIGHT = 8
PAD_TOP = 12
PAD_BOTTOM = 28
TICKS = 4


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str
    css: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class AxisLabel:
    x: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_bottom: int
    bars: list[Bar]
    ticks: list[Tick]
    x_labels: list[AxisLabel]
    total: str
    days_with_usage: int


def daily_cost_chart(series: list[DailyCost], currency: str) -> Chart:
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    bottom = HEIGHT - PAD_BOTTOM
    top_value = _nice_max(max((d.cost for d in series if d.cost is not None), default=Decimal(0)))
    slot = plot_w / max(len(series), 1)
    bars = []
    for i, day in enumerate(series):
        if day.cost is None:
            continue
        h = float(day.cost / top_value) * plot_h if top_value else 0.0
        note = " (collection incomplete)" if day.incomplete else ""
        bars.append(
            Bar(
                x=round(PAD_LEFT + i * slot + slot * 0.1, 2),
                y=round(bottom - h, 2),
                width=round(max(slot * 0.8, 1.0), 2),
                height=round(h, 2),
                title=f"{day.date.isoformat()}: {format_cents(to_cents(day.cost), currency)}{note}",
                css="bar incomplete" if day.incomplete else "bar",
            )
        )
    ticks = [
        Tick(
            y=round(bottom - plot_h * k / TICKS, 2),
            label=format_cents(to_cents(top_value * k / TICKS), currency),
        )
        for k in range(TICKS + 1)
    ]
    step = max(len(series) // 6, 1)
    x_labels = [
        AxisLabel(x=round(PAD_LEFT + i * slot + slot / 2, 2), label=d.date.strftime("%b %d"))
        for i, d in enumerate(series)
        if i % step == 0
    ]
    total = sum((d.cost for d in series if d.cost is not None), Decimal(0))
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=PAD_LEFT,
        plot_right=WIDTH - PAD_RIGHT,
        plot_bottom=bottom,
        bars=bars,
        ticks=ticks,
        x_labels=x_labels,
        total=format_cents(to_cents(total), currency),
        days_with_usage=sum(1 for d in series if d.cost is not None),
    )


def _nice_max(value: Decimal) -> Decimal:
    """A round axis maximum at or above the largest bar (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return Decimal(1)
    magnitude = Decimal(10) ** (value.adjusted())
    for factor in (1, 2, 5, 10):
        if magnitude * factor >= value:
            return magnitude * factor
    return magnitude * 10
