"""The long, repetitive parts of the billing page (the days of the month with their lines, the
chart's bars, the ledger rows) rendered in Python: the same markup a template would produce,
at a tenth of the cost of thousands of template nodes (bench/pages.py). Every dynamic value
goes through escape()."""

from __future__ import annotations

import html

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from billing.ledger.money import format_cents
from billing.portal import display
from billing.portal.charts import Chart
from billing.portal.statement import ClusterDay, Day, Line

NOT_MEASURED = f'<span class="muted not-measured">{display.NOT_MEASURED}</span>'
LINE_HEAD = (
    '<thead><tr><th scope="col">Project</th><th scope="col">Resource</th>'
    '<th scope="col" class="num">Measured</th>'
    '<th scope="col" class="num">Billed quantity × unit price</th>'
    '<th scope="col" class="num">Cost</th></tr></thead>'
)


def escape(value) -> str:
    """Django's escape() without its lazy-string wrapper: the same text, a fifth of the cost
    at the hundreds of cells of a month's line items (profiled on the bench's data)."""
    return html.escape(str(value))


def _cell(label: str, html: str, css: str = "num") -> str:
    return f'<td class="{css}" data-label="{escape(label)}">{html}</td>'


def _line(line: Line, currency: str) -> str:
    resource = escape(line.label)
    if line.instance_type:
        resource += f' <span class="muted">{escape(line.instance_type)}</span>'
    if line.not_measured:
        measured = billed = cost = NOT_MEASURED
    else:
        measured = escape(display.quantity(line.quantity, line.measured_unit))
        billed = escape(
            display.formula(line.billed_quantity, line.price_unit, line.unit_price, currency)
        )
        cost = escape(display.cents(line.cost_cents, currency))
    return (
        "<tr>"
        + _cell("Project", escape(line.project), "")
        + _cell("Resource", resource, "")
        + _cell("Measured", measured)
        + _cell("Billed", billed)
        + _cell("Cost", cost)
        + "</tr>"
    )


def _cluster_rows(cluster_day: ClusterDay, currency: str) -> str:
    if cluster_day.charged:
        state = "charged"
    else:
        state = (
            f'<span class="tag warn">{escape(cluster_day.status)}</span> collection '
            "incomplete: not charged until it completes"
        )
    head = (
        f'<tr class="group"><th scope="rowgroup" colspan="5">Cluster '
        f"{escape(cluster_day.cluster)} · {state}</th></tr>"
    )
    lines = "".join(_line(line, currency) for line in cluster_day.lines)
    if not cluster_day.lines:
        lines = '<tr><td colspan="5" class="muted">No line items were recorded.</td></tr>'
    total = (
        f'<tr class="subtotal"><th scope="row" colspan="4">Total on {escape(cluster_day.cluster)}'
        f"{'' if cluster_day.charged else ' (not charged)'}</th>"
        + _cell("Total", escape(format_cents(cluster_day.cost_cents, currency)))
        + "</tr>"
    )
    return head + lines + total


def _day_flag(day: Day, currency: str) -> str:
    if not day.incomplete:
        return ""
    amount = escape(format_cents(day.not_charged_cents, currency))
    return (
        '<span class="tag warn" data-testid="incomplete">'
        f"Collection incomplete: {amount} measured so far, not charged</span>"
    )


def usage_days_html(days: list[Day], currency: str) -> SafeString:
    out = []
    for day in days:
        clusters = ", ".join(c.cluster for c in day.clusters)
        lines = sum(len(c.lines) for c in day.clusters)
        body = "".join(_cluster_rows(c, currency) for c in day.clusters)
        out.append(
            f'<details class="day" id="{day.anchor}" data-testid="day">'
            f'<summary><span class="day-date">{day.date:%a %b} {day.date.day}</span>'
            f'<span class="day-cost">{escape(format_cents(day.charged_cents, currency))}</span>'
            f'<span class="muted day-where">{escape(clusters)} · {lines} lines</span>'
            f"{_day_flag(day, currency)}</summary>"
            f'<table class="lines stack">{LINE_HEAD}<tbody>{body}</tbody></table></details>'
        )
    return mark_safe("\n".join(out))  # noqa: S308 - every value above is escaped


def chart_bars_html(chart: Chart) -> SafeString:
    """Bars as links to themselves: tapping one (or hovering, or focusing it) shows its value,
    which links on to the day's lines."""
    out = []
    for bar in chart.bars:
        side = " right" if bar.right else ""
        label = f'<span class="x-label">{escape(bar.x_label)}</span>' if bar.x_label else ""
        if bar.cents is None:
            out.append(f'<li class="slot{side}">{label}</li>')
            continue
        out.append(
            f'<li class="slot{side}" id="bar-{bar.date.isoformat()}">'
            f'<a class="{bar.css}" href="#bar-{bar.date.isoformat()}" '
            f'style="height:{bar.height}%" aria-label="{escape(bar.title)}"></a>'
            f'<a class="bar-value" href="#{bar.anchor}">{escape(bar.title)}</a>{label}</li>'
        )
    return mark_safe("".join(out))  # noqa: S308 - titles are escaped, numbers are numbers


def ledger_rows_html(transactions, currency: str, usage_refs: dict) -> SafeString:
    """Ledger rows; a usage posting names its usage day and cluster and links to that day."""
    out = []
    for tx in transactions:
        what = escape(tx.get_kind_display())
        usage = usage_refs.get(tx.source_ref or "")
        if usage is not None:
            day, cluster = usage
            what += (
                f' <a href="?month={day:%Y-%m}#day-{day.isoformat()}">'
                f"{day:%a %b} {day.day}</a> on {escape(cluster)}"
            )
        if tx.funding == "promotional":
            expires = f", expires {tx.expires_at:%Y-%m-%d}" if tx.expires_at else ""
            what += f' <span class="muted">(promotional{expires})</span>'
        if tx.reason:
            what += f'<br><span class="muted">{escape(tx.reason)}</span>'
        neg = " neg" if tx.amount_cents < 0 else ""
        out.append(
            f'<tr><td data-label="When">{timezone.localtime(tx.created_at):%Y-%m-%d %H:%M}</td>'
            f'<td data-label="What">{what}</td>'
            f'<td class="num{neg}" data-label="Amount">'
            f"{escape(format_cents(tx.amount_cents, currency))}</td>"
            f'<td class="num" data-label="Balance after">'
            f"{escape(format_cents(tx.balance_after_cents, currency))}</td></tr>"
        )
    return mark_safe("\n".join(out))  # noqa: S308 - every value above is escaped
