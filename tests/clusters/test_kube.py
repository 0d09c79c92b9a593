"""clusters.kube against the fake Kubernetes API server on loopback."""

from __future__ import annotations

import socket

import pytest

from clusters.kube import BadResponse, KubeClient, NotConfigured, Unauthorized, Unreachable
from clusters.models import Cluster
from tests.fakes.kube_server import Failure, FakeKube, namespace, pod


@pytest.fixture
def fake(settings):
    settings.KUBE_PAGE_SIZE = 2
    settings.KUBE_REQUEST_TIMEOUT = 0.3
    server = FakeKube(
        pods=[pod(f"p{i}", "alpha") for i in range(5)],
        namespaces=[namespace("alpha")],
    ).start()
    yield server
    server.stop()


def _cluster(kubeconfig: str) -> Cluster:
    return Cluster(name="c", hopsworks_url="https://hw.test", kubeconfig=kubeconfig)


def test_it_lists_every_pod_through_pages_with_limit_and_continue(fake):
    with KubeClient(_cluster(fake.kubeconfig())) as kube:
        names = [p["metadata"]["name"] for p in kube.pods()]
    assert names == ["p0", "p1", "p2", "p3", "p4"]
    queries = fake.list_requests("pods")
    assert [q.get("limit") for q in queries] == ["2", "2", "2"]
    assert "continue" not in queries[0] and all("continue" in q for q in queries[1:])


def test_pods_come_back_real_shaped(fake):
    with KubeClient(_cluster(fake.kubeconfig())) as kube:
        first = next(iter(kube.pods()))
    assert first["status"]["containerStatuses"][0]["imageID"].startswith("docker.io")
    assert first["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}


def test_a_wrong_token_is_unauthorized(fake):
    with KubeClient(_cluster(fake.kubeconfig(token="wrong"))) as kube:
        with pytest.raises(Unauthorized):
            list(kube.namespaces())


def test_a_failing_second_page_raises_after_the_first(fake):
    fake.failures["pods"] = Failure(status=500, page=2)
    seen = []
    with KubeClient(_cluster(fake.kubeconfig())) as kube:
        with pytest.raises(BadResponse) as exc:
            for item in kube.pods():
                seen.append(item)
    assert len(seen) == 2
    assert exc.value.status == 500


def test_garbage_json_is_a_bad_response(fake):
    fake.failures["nodes"] = Failure(garbage=True)
    with KubeClient(_cluster(fake.kubeconfig())) as kube:
        with pytest.raises(BadResponse):
            list(kube.nodes())


def test_a_hanging_server_times_out_as_unreachable(fake):
    fake.failures["pods"] = Failure(hang=0.9)
    with KubeClient(_cluster(fake.kubeconfig())) as kube:
        with pytest.raises(Unreachable):
            list(kube.pods())


def test_a_closed_port_is_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = (
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        f"clusters: [{{name: x, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: x, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: x, user: x}}]\n"
    )
    with KubeClient(_cluster(config)) as kube:
        with pytest.raises(Unreachable):
            list(kube.pods())


@pytest.mark.parametrize("kubeconfig", ["", "not: [valid", "apiVersion: v1\nkind: Config\n"])
def test_a_missing_or_broken_kubeconfig_is_not_configured(kubeconfig):
    with pytest.raises(NotConfigured):
        KubeClient(_cluster(kubeconfig))


def test_each_cluster_gets_its_own_client_not_the_global_config(fake):
    other = FakeKube(pods=[pod("solo", "x")]).start()
    try:
        with (
            KubeClient(_cluster(fake.kubeconfig())) as a,
            KubeClient(_cluster(other.kubeconfig())) as b,
        ):
            assert len(list(a.pods())) == 5
            assert len(list(b.pods())) == 1
    finally:
        other.stop()


def test_proxy_get_returns_json_and_types_a_missing_path(fake):
    fake.hdfs["/Projects/alpha"] = 1024
    prefix = "/api/v1/namespaces/hops-system/services/namenode:50070/proxy/webhdfs/v1"
    with KubeClient(_cluster(fake.kubeconfig())) as kube:
        body = kube.proxy_get(f"{prefix}/Projects/alpha", [("op", "GETCONTENTSUMMARY")])
        with pytest.raises(BadResponse) as exc:
            kube.proxy_get(f"{prefix}/Projects/none", [("op", "GETCONTENTSUMMARY")])
    assert body["ContentSummary"]["length"] == 1024
    assert exc.value.status == 404
