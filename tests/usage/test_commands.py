"""manage.py sample_usage and collect_usage: thin doors into the same services."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.fakes.kube_server import Failure
from usage.models import CollectionRun, PodRecord, UsageDay

pytestmark = pytest.mark.usefixtures("catalogue", "teammate_on_cluster")


def test_sample_usage_records_the_pods_of_each_cluster(cluster, busy_day):
    out = StringIO()
    call_command("sample_usage", "--cluster", str(cluster.pk), stdout=out)
    assert "c1: 6 pod(s)" in out.getvalue()
    assert PodRecord.objects.count() == 6


def test_sample_usage_fails_loudly_when_a_cluster_is_down(cluster, busy_day):
    busy_day.failures["pods"] = Failure(status=500)
    with pytest.raises(CommandError, match="1 cluster"):
        call_command("sample_usage", stdout=StringIO(), stderr=StringIO())


def test_collect_usage_backfills_a_given_day(owner, cluster, busy_day):
    out = StringIO()
    call_command("collect_usage", "--date", "2024-01-15", "--cluster", str(cluster.pk), stdout=out)
    assert "c1 2024-01-15: complete" in out.getvalue()
    assert UsageDay.objects.get(user=owner).cost_cents == 1579


def test_collect_usage_says_which_days_are_not_complete(cluster, busy_day, hopsworks):
    hopsworks["prometheus_status"] = 503
    out = StringIO()
    with pytest.raises(CommandError, match="not complete"):
        call_command("collect_usage", "--date", "2024-01-15", stdout=out)
    assert "partial: API calls not measured" in out.getvalue()
    assert CollectionRun.objects.get().status == "partial"


@pytest.mark.parametrize("args", [["--date", "2024-13-01"], ["--cluster", "999999"]])
def test_collect_usage_rejects_bad_input(db, args):
    with pytest.raises(CommandError):
        call_command("collect_usage", *args, stdout=StringIO())
