"""Celery doors: the beat schedule names real tasks with expiries; tasks take ids."""

from __future__ import annotations

from django.conf import settings

from config.celery import app
from tests.fakes.kube_server import Failure
from usage.models import PodRecord
from usage.tasks import collect_cluster_day, sample_cluster


def test_beat_samples_every_five_minutes_and_collects_at_two():
    schedule = settings.CELERY_BEAT_SCHEDULE
    for name in ("usage-sample", "usage-collect"):
        assert schedule[name]["task"] in app.tasks
        assert schedule[name]["options"]["expires"] > 0
    assert schedule["usage-sample"]["schedule"].minute == set(range(0, 60, 5))
    assert schedule["usage-collect"]["schedule"].hour == {2}


def test_sample_cluster_records_pods_and_reports_failures(cluster, busy_day):
    assert sample_cluster.apply(args=[cluster.pk]).get()["pods"] == 6
    assert PodRecord.objects.count() == 6
    busy_day.failures["pods"] = Failure(status=401)
    assert "401" in sample_cluster.apply(args=[cluster.pk]).get()["error"]


def test_tasks_for_a_deleted_cluster_do_nothing(db):
    assert sample_cluster.apply(args=[999999]).get()["error"] == "no such cluster"
    assert collect_cluster_day.apply(args=[999999, "2024-01-15"]).get()["error"]
