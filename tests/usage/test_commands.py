"""manage.py sample_usage and collect_usage: thin doors into the same services."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from clusters.models import Cluster
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


@pytest.mark.parametrize("ref", ["name", "id"])
def test_sample_and_collect_take_the_cluster_by_name_or_id(owner, cluster, busy_day, ref):
    value = cluster.name if ref == "name" else str(cluster.pk)
    out = StringIO()
    call_command("sample_usage", "--cluster", value, stdout=out)
    call_command("collect_usage", "--date", "2024-01-15", "--cluster", value, stdout=out)
    assert "c1: 6 pod(s)" in out.getvalue() and "c1 2024-01-15: complete" in out.getvalue()


def test_an_unknown_cluster_is_refused_naming_the_known_ones(cluster):
    with pytest.raises(CommandError, match=r"No cluster named or numbered 'eu9' \(clusters: c1\)"):
        call_command("sample_usage", "--cluster", "eu9", stdout=StringIO())


@pytest.mark.parametrize("command", ["sample_usage", "collect_usage"])
def test_with_no_active_cluster_the_commands_say_there_is_nothing_to_do(cluster, command):
    Cluster.objects.update(is_active=False)
    out = StringIO()
    call_command(command, stdout=out)
    assert "Nothing to do: no active cluster" in out.getvalue()


@pytest.mark.parametrize(("day", "why"), [("2024-01-21", "in the future"), ("2024-01-20", "today")])
def test_collect_usage_refuses_a_day_that_is_not_over(cluster, day, why, monkeypatch):
    # The clock (Django's), not our code, is what is set here: it is noon on 2024-01-20.
    noon = datetime(2024, 1, 20, 12, tzinfo=UTC)
    monkeypatch.setattr("django.utils.timezone.now", lambda: noon)
    latest = "latest day that can be collected is 2024-01-19"
    with pytest.raises(CommandError, match=f"{why}.*{latest}"):
        call_command("collect_usage", "--date", day, stdout=StringIO())
    assert not CollectionRun.objects.exists()


def test_the_cron_door_refuses_a_future_day(client, cluster, settings):
    response = client.post(
        "/api/usage/collect",
        {"date": "2999-01-01"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {settings.CRON_SECRET}"},
    )
    assert response.status_code == 400
    assert "in the future" in response.json()["date"][0]
    assert not CollectionRun.objects.exists()
