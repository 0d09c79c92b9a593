"""POST /api/usage/collect: the cron door, bearer CRON_SECRET, 202 with task ids."""

from __future__ import annotations

import pytest
from django.test import Client

from clusters.models import Cluster
from config.celery import app

URL = "/api/usage/collect"


@pytest.fixture
def clusters(db):
    active = Cluster.objects.create(name="a", hopsworks_url="https://a.test")
    Cluster.objects.create(name="off", hopsworks_url="https://off.test", is_active=False)
    yield active
    app.control.purge()  # the queued tasks are not for any worker


def _post(body=None, token="dev-cron-secret"):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().post(URL, body or {}, content_type="application/json", **headers)


def test_it_enqueues_one_task_per_active_cluster_for_yesterday(clusters):
    response = _post()
    assert response.status_code == 202
    tasks = response.json()["tasks"]
    assert [t["cluster"] for t in tasks] == [clusters.pk]
    assert tasks[0]["task_id"]


def test_it_takes_a_date_and_a_cluster(clusters):
    response = _post({"date": "2024-01-15", "cluster": clusters.pk})
    assert response.status_code == 202
    assert response.json()["tasks"][0]["date"] == "2024-01-15"


@pytest.mark.parametrize("token", [None, "wrong", "dev-cron-secret-but-longer"])
def test_without_the_secret_it_refuses(clusters, token):
    assert _post(token=token).status_code == 401


def test_an_unset_secret_refuses_everyone(clusters, settings):
    settings.CRON_SECRET = ""
    assert _post(token="").status_code == 503


@pytest.mark.parametrize("body", [{"date": "yesterday"}, {"cluster": 999999}])
def test_bad_input_is_a_400(clusters, body):
    assert _post(body).status_code == 400


def test_get_is_not_allowed(clusters):
    assert Client().get(URL, HTTP_AUTHORIZATION="Bearer dev-cron-secret").status_code == 405


def test_with_the_broker_down_it_answers_503_at_once_and_says_why(clusters, broker_down):
    response = _post()
    assert response.status_code == 503
    assert "unreachable" in response.json()["detail"]
    assert response["Retry-After"] == "60"
