"""manage.py usage_report: the spec's JSON shape plus costs."""

from __future__ import annotations

import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.usage.conftest import COLLECTED_AT
from usage.services import usage_collect_day

DAY = date(2024, 1, 15)
pytestmark = pytest.mark.usefixtures("catalogue", "teammate_on_cluster")


def _report(email: str, day: str = "2024-01-15") -> list:
    out = StringIO()
    call_command("usage_report", "--user", email, "--date", day, "--format", "json", stdout=out)
    return json.loads(out.getvalue())


def test_it_prints_one_object_per_cluster_in_the_spec_shape(owner, cluster, busy_day):
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    assert _report("OWNER@example.com") == [
        {
            "date": "2024-01-15",
            "cluster": "c1",
            "compute": {
                "instances": [
                    {"type": "m5.xlarge", "hours": 2, "cpuHours": 8, "gpuHours": 0},
                    {"type": "p3.2xlarge", "hours": 12, "cpuHours": 24, "gpuHours": 12},
                ]
            },
            "storage": {"featureStore": 50, "models": 20, "datasets": 30, "total": 100},
            "apiCalls": {"featureStore": 5000, "modelServing": 1000, "jobs": 0, "total": 6000},
            "cost": {
                "compute": 15.504,
                "storage": 0.215806,
                "apiCalls": 0.07,
                "total": 15.789806,
                "totalCents": 1579,
                "currency": "usd",
            },
            "status": "complete",
        }
    ]


def test_unmeasured_quantities_are_null_not_zero(owner, cluster, busy_day):
    cluster.prometheus_url = ""
    cluster.save()
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    [day] = _report("owner@example.com")
    assert day["apiCalls"] == {
        "featureStore": None,
        "modelServing": None,
        "jobs": None,
        "total": None,
    }
    assert day["storage"]["total"] == 100
    assert day["status"] == "complete"


def test_a_user_without_usage_gets_an_empty_list(owner, outsider, cluster, busy_day):
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    assert _report("outsider@example.com") == []


def test_bad_input_is_a_clear_error(owner):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        _report("owner@example.com", "15/01/2024")
    with pytest.raises(CommandError, match="No user"):
        _report("nobody@example.com")
