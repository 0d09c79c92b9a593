"""A fake cluster for usage tests: the fake Kubernetes API server on loopback, Hopsworks and
Prometheus faked with `responses`, nodes `node-a` (m5.xlarge) and `node-g` (p3.2xlarge)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from clusters.models import Cluster, StorageSource
from tests.fakes.kube_server import FakeKube, container, namespace, node, pod

HOPSWORKS = "https://hw.test/hopsworks-api/api"
PROMETHEUS = "https://prom.test"
QUERIES = {
    "featureStore": "sum by (namespace) (increase(fs_requests_total[{window}]))",
    "modelServing": "sum by (namespace) (increase(serving_requests_total[{window}]))",
    "jobs": "sum by (namespace) (increase(jobs_requests_total[{window}]))",
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def fake_kube(settings):
    settings.KUBE_PAGE_SIZE = 2  # every list spans several pages
    settings.KUBE_REQUEST_TIMEOUT = 0.5
    server = FakeKube(
        nodes=[node("node-a", "m5.xlarge"), node("node-g", "p3.2xlarge")],
        namespaces=[
            namespace("kube-system"),
            namespace("alpha", {"hopsworks.ai/project": "alpha"}),
            namespace("beta-proj"),  # no label: the lower-cased project name
            namespace("orphan", {"hopsworks.ai/project": "orphan"}),  # nobody we know
        ],
    ).start()
    yield server
    server.stop()


@pytest.fixture
def hopsworks():
    """Hopsworks' project list plus the cluster's Prometheus, answering per query."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        state = {
            "projects": [
                {
                    "id": 1,
                    "name": "alpha",
                    "creator": {"email": "Owner@Example.com", "username": "own"},
                },
                {
                    "id": 2,
                    "name": "Beta_Proj",
                    "creator": {"email": "x@elsewhere", "username": "tm1"},
                },
            ],
            "calls": {"fs_requests": {"alpha": "5000"}, "serving": {"alpha": "1000"}, "jobs": {}},
            "prometheus_status": 200,
        }
        mock.add_callback(
            responses.GET,
            f"{HOPSWORKS}/admin/projects",
            callback=lambda request: (200, {}, json.dumps({"items": state["projects"]})),
        )
        mock.add_callback(
            responses.GET, f"{PROMETHEUS}/api/v1/query", callback=lambda r: _prometheus(r, state)
        )
        state["mock"] = mock
        yield state


def _prometheus(request, state):
    if state["prometheus_status"] != 200:
        return state["prometheus_status"], {}, "unavailable"
    query = parse_qs(urlsplit(request.url).query)["query"][0]
    metric = query.split("increase(")[1].split("_total")[0]
    key = "fs_requests" if metric.startswith("fs") else metric.split("_")[0]
    result = [
        {"metric": {"namespace": ns}, "value": [1705363200, value]}
        for ns, value in state["calls"].get(key, {}).items()
    ]
    body = {"status": "success", "data": {"resultType": "vector", "result": result}}
    return 200, {}, json.dumps(body)


@pytest.fixture
def cluster(db, fake_kube, hopsworks) -> Cluster:
    return Cluster.objects.create(
        name="c1",
        hopsworks_url=HOPSWORKS,
        api_key="hw-key",
        kubeconfig=fake_kube.kubeconfig(),
        storage_source=StorageSource.WEBHDFS,
        webhdfs_proxy_path="/api/v1/namespaces/hops-system/services/namenode:50070/proxy",
        prometheus_url=PROMETHEUS,
        api_call_queries=QUERIES,
    )


@pytest.fixture
def teammate_on_cluster(teammate, cluster):
    teammate.cluster = cluster
    teammate.hopsworks_username = "tm1"
    teammate.save()
    return teammate


GIB = 2**30


@pytest.fixture
def busy_day(fake_kube):
    """2024-01-15 on the fake cluster (collected at 02:00 the next morning):
    alpha (owner): a job over midnight on m5.xlarge (2 h on the 15th), a GPU pod on p3.2xlarge
    running since noon (12 h), a Pending pod; beta-proj (teammate): a notebook all day;
    orphan (unattributed): a pod since 06:00; kube-system: ignored."""
    fake_kube.pods = [
        pod(
            "train",
            "alpha",
            phase="Succeeded",
            started=at("2024-01-14T22:00:00"),
            finished=[at("2024-01-15T02:00:00")],
            containers=[container(requests={"cpu": "4", "memory": "16Gi"})],
        ),
        pod(
            "gpu",
            "alpha",
            node_name="node-g",
            started=at("2024-01-15T12:00:00"),
            containers=[
                container(requests={"cpu": "2", "memory": "8Gi"}, limits={"nvidia.com/gpu": "1"})
            ],
        ),
        pod("wait", "alpha", phase="Pending", node_name=None),
        pod("nb", "beta-proj", started=at("2024-01-15T00:00:00")),
        pod("x", "orphan", started=at("2024-01-15T06:00:00")),
        pod("coredns", "kube-system", started=at("2024-01-01T00:00:00")),
    ]
    fake_kube.hdfs.update(
        {
            "/apps/hive/warehouse/alpha_featurestore.db": 50 * GIB,
            "/Projects/alpha": 50 * GIB,
            "/Projects/alpha/Models": 20 * GIB,
        }
    )
    return fake_kube


COLLECTED_AT = at("2024-01-16T02:00:00")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def keep_pod_rows_forever(settings):
    """Some tests collect 2024 days with the real clock."""
    settings.USAGE_POD_RETENTION_DAYS = 36500
