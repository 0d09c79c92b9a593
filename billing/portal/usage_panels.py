"""The billing page's usage panels: the month's total and forecast, what will appear here, the
breakdowns, the chart and the days with their line items. They change only when a collection
or a re-price rewrites usage days (once a night), not with a posting, a purchase or a status
change; so they are rendered once per usage version and kept in the cache (Redis in
production), and the first view after any other change renders only the account's panels.

The key holds the usage fingerprint read with the account (`account.v_usage`, see
selectors.account_with_version): a recollection or a correction of any day changes it."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from django.conf import settings
from django.core.cache import cache
from django.template.loader import render_to_string

from billing.portal import fragments, selectors
from billing.portal.charts import daily_cost_chart
from billing.portal.statement import month_statement

TEMPLATES = {
    "month_total_html": "billing/partials/month_total.html",
    "getting_started_html": "billing/partials/getting_started.html",
    "usage_html": "billing/_usage_panels.html",
}


def usage_panels(*, user, account, context: dict, window: tuple[date, date]) -> dict:
    """The panels' HTML, and `recent`: the last 30 days' costs (the runway's basis)."""
    key = _key(account, context, window)
    panels = cache.get(key) if key else None
    if panels is None:
        panels = _render(user, account, context, window)
        if key:
            cache.set(key, panels, settings.BILLING_PAGE_CACHE_SECONDS)
    return panels


def _key(account, context: dict, window: tuple[date, date]) -> str | None:
    if settings.BILLING_PAGE_CACHE_SECONDS <= 0:
        return None
    parts = (
        account.user_id,
        account.v_usage,
        account.currency,
        context["prepaid"],
        context["today"],
        context["days"],
        context["usage_month"],
        context["month_chosen"],
        window,
        settings.BILLING_TIME_ZONE,
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()
    return f"billing-usage:{account.pk}:{digest}"


def _render(user, account, context: dict, window: tuple[date, date]) -> dict:
    today, first = context["today"], context["usage_month"]
    series = selectors.daily_costs(user=user, first=window[0], last=window[1])
    chart = daily_cost_chart(series, account.currency)
    statement = month_statement(user=user, month=first, today=today)
    data = context | {
        "statement": statement,
        "forecast_cents": statement.forecast_cents(today=today),
        "chart": chart,
        "chart_bars": fragments.chart_bars_html(chart),
        "usage_rows": fragments.usage_days_html(statement.days, account.currency),
    }
    panels = {name: render_to_string(template, data) for name, template in TEMPLATES.items()}
    recent = series
    if window != (today - timedelta(days=29), today):
        recent = selectors.daily_costs(user=user, first=today - timedelta(days=29), last=today)
    return panels | {"recent": recent}
