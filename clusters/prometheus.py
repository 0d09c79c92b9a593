"""The one module that talks to a cluster's Prometheus (instant queries over HTTP)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

import requests
from django.conf import settings


class PrometheusError(Exception):
    pass


def prometheus_query(*, base_url: str, query: str, at: datetime) -> list[tuple[dict, Decimal]]:
    """An instant query (`/api/v1/query`) evaluated at `at`: (labels, value) per series."""
    try:
        response = requests.get(
            f"{base_url.rstrip('/')}/api/v1/query",
            params={"query": query, "time": f"{at.timestamp():.3f}"},
            timeout=(settings.PROMETHEUS_CONNECT_TIMEOUT, settings.PROMETHEUS_READ_TIMEOUT),
        )
    except requests.RequestException as exc:
        raise PrometheusError(f"Prometheus unreachable: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise PrometheusError(f"Prometheus answered {response.status_code}")
    try:
        body = response.json()
        data = body["data"]
        if body.get("status") != "success" or data.get("resultType") != "vector":
            raise PrometheusError("Prometheus answered no vector result")
        return [(series.get("metric") or {}, _value(series["value"])) for series in data["result"]]
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise PrometheusError(f"Prometheus answered an unreadable result ({exc})") from exc


def _value(pair) -> Decimal:
    try:
        value = Decimal(str(pair[1]))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {pair[1]!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite number: {pair[1]!r}")
    return value
