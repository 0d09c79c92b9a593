"""API calls from Prometheus at its HTTP boundary (`responses`): the query sent, the series read."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import responses

from billing.models import Resource
from clusters.models import Cluster
from usage.services.ownership import ProjectOwner
from usage.services.sources import api_calls_measure, sources_not_configured

PROM = "https://prom.example"
OWNERS = {"alpha": ProjectOwner("alpha", 1), "beta-proj": ProjectOwner("Beta_Proj", 2)}


def _cluster(**queries) -> Cluster:
    return Cluster(
        name="c", hopsworks_url="https://hw", prometheus_url=PROM, api_call_queries=queries
    )


@responses.activate
def test_it_sends_the_day_window_and_sums_series_per_project(settings):
    settings.BILLING_TIME_ZONE = "Europe/Stockholm"
    series = [
        {"metric": {"namespace": "alpha", "route": "a"}, "value": [0, "1200.4"]},
        {"metric": {"namespace": "alpha", "route": "b"}, "value": [0, "800"]},
        {"metric": {"project": "Beta_Proj"}, "value": [0, "7"]},
        {"metric": {"namespace": "kube-system"}, "value": [0, "99"]},
    ]
    responses.get(
        f"{PROM}/api/v1/query",
        json={"status": "success", "data": {"resultType": "vector", "result": series}},
    )
    cluster = _cluster(jobs="sum by (namespace) (increase(jobs_total[{window}]))")
    measured, problems = api_calls_measure(
        cluster=cluster,
        day=date(2024, 3, 31),  # 23 hours in Stockholm
        owners=OWNERS,
    )
    sent = parse_qs(urlsplit(responses.calls[0].request.url).query)
    assert sent["query"] == ["sum by (namespace) (increase(jobs_total[82800s]))"]
    assert sent["time"] == ["1711922400.000"]  # 2024-04-01 00:00 Stockholm (UTC+2)
    assert measured["alpha"][Resource.API_CALLS_JOBS] == Decimal("2000.4")
    assert measured["Beta_Proj"][Resource.API_CALLS_JOBS] == Decimal(7)
    assert measured["alpha"][Resource.API_CALLS_FEATURE_STORE] is None
    # Categories without a query are a configuration choice, not a failure of this run.
    assert problems == []
    assert sources_not_configured(cluster) == [
        "storage not measured: no storage source configured",
        "API calls not measured: no query for featureStore",
        "API calls not measured: no query for modelServing",
    ]


@responses.activate
def test_an_unreadable_answer_is_not_measured():
    responses.get(
        f"{PROM}/api/v1/query",
        json={
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [{"metric": {"namespace": "alpha"}, "value": [0, "NaN"]}],
            },
        },
    )
    measured, problems = api_calls_measure(
        cluster=_cluster(jobs="x"), day=date(2024, 1, 15), owners=OWNERS
    )
    assert measured["alpha"][Resource.API_CALLS_JOBS] is None
    assert "unreadable" in problems[-1]
