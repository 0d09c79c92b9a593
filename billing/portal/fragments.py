"""The long, repetitive parts of the billing page (usage by day, the chart's bars, the ledger
rows) rendered in Python: the same markup the template would produce, at a tenth of the cost
of thousands of template nodes (bench/pages.py). Every dynamic value goes through escape()."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from billing.ledger.money import format_cents, round_cost, to_cents
from billing.portal.charts import Chart
from billing.portal.selectors import UsageDayRow, UsageRow

NOT_MEASURED = '<span class="muted">not measured</span>'


def _money(value: Decimal, currency: str) -> str:
    return escape(format_cents(to_cents(value), currency))


def _quantity(value: Decimal) -> str:
    text = f"{round_cost(value):,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _line(line: UsageRow, currency: str) -> str:
    itype = (
        f' <span class="muted">{escape(line.instance_type)}</span>' if line.instance_type else ""
    )
    if line.not_measured:
        qty = NOT_MEASURED
    else:
        partly = ' <span class="muted">(partly not measured)</span>' if line.partly_measured else ""
        qty = f"{escape(_quantity(line.quantity))} {escape(line.unit)}{partly}"
    cost = '<span class="muted">—</span>' if line.cost is None else _money(line.cost, currency)
    return (
        f'<tr><th scope="row">{escape(line.label)}{itype}</th>'
        f'<td class="num">{qty}</td><td class="num">{cost}</td></tr>'
    )


def usage_days_html(days: list[UsageDayRow], currency: str) -> SafeString:
    out = []
    for day in days:
        flag = (
            ' <span class="tag warn" title="Collection was partial or failed for this day">'
            "incomplete</span>"
            if day.incomplete
            else ""
        )
        projects = []
        for project, lines in day.projects.items():
            rows = "".join(_line(line, currency) for line in lines)
            projects.append(
                f"<details><summary>{escape(project)}</summary>"
                '<table class="inner"><thead><tr><th scope="col">Resource</th>'
                '<th scope="col" class="num">Quantity</th><th scope="col" class="num">Cost</th>'
                f"</tr></thead><tbody>{rows}</tbody></table></details>"
            )
        out.append(
            f'<tr><th scope="row">{day.date:%a %b} {day.date.day}{flag}</th>'
            f'<td class="num">{_money(day.cost, currency)}</td><td>{"".join(projects)}</td></tr>'
        )
    return mark_safe("\n".join(out))  # noqa: S308 - every value above is escaped


def chart_bars_html(chart: Chart) -> SafeString:
    return mark_safe(  # noqa: S308 - titles are escaped, numbers are numbers
        "".join(
            f'<rect class="{b.css}" x="{b.x}" y="{b.y}" width="{b.width}" height="{b.height}">'
            f"<title>{escape(b.title)}</title></rect>"
            for b in chart.bars
        )
    )


def ledger_rows_html(transactions, currency: str) -> SafeString:
    out = []
    for tx in transactions:
        what = escape(tx.get_kind_display())
        if tx.funding == "promotional":
            expires = f", expires {tx.expires_at:%Y-%m-%d}" if tx.expires_at else ""
            what += f' <span class="muted">(promotional{expires})</span>'
        if tx.reason:
            what += f'<br><span class="muted">{escape(tx.reason)}</span>'
        neg = " neg" if tx.amount_cents < 0 else ""
        out.append(
            f"<tr><td>{timezone.localtime(tx.created_at):%Y-%m-%d %H:%M}</td><td>{what}</td>"
            f'<td class="num{neg}">{escape(format_cents(tx.amount_cents, currency))}</td>'
            f'<td class="num">{escape(format_cents(tx.balance_after_cents, currency))}</td></tr>'
        )
    return mark_safe("\n".join(out))  # noqa: S308 - every value above is escaped
