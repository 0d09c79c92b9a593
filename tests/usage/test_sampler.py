"""The sampler: one paginated pod list per cluster into one row per pod."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clusters.kube import BadResponse
from tests.fakes.kube_server import Failure, container, pod
from tests.usage.conftest import at
from usage.models import PodRecord
from usage.services import usage_sample


def test_it_keeps_one_row_per_pod_across_samples(cluster, fake_kube):
    fake_kube.pods = [
        pod("train", "alpha", started=at("2024-01-15T09:00:00")),
        pod("wait", "alpha", phase="Pending", node_name=None),
        pod("gpu", "alpha", node_name="node-g", started=at("2024-01-15T09:00:00")),
    ]
    usage_sample(cluster=cluster, now=at("2024-01-15T10:00:00"))
    usage_sample(cluster=cluster, now=at("2024-01-15T10:05:00"))

    assert PodRecord.objects.count() == 3
    train = PodRecord.objects.get(name="train")
    assert train.first_seen_at == at("2024-01-15T10:00:00")
    assert train.last_seen_at == train.last_running_at == at("2024-01-15T10:05:00")
    assert (train.instance_type, train.cpu_cores, train.memory_gib) == (
        "m5.xlarge",
        Decimal(1),
        Decimal(1),
    )
    assert PodRecord.objects.get(name="gpu").instance_type == "p3.2xlarge"
    wait = PodRecord.objects.get(name="wait")
    assert wait.last_running_at is None and wait.instance_type == ""


def test_a_pod_that_stops_running_keeps_its_last_running_sighting(cluster, fake_kube):
    fake_kube.pods = [pod("job", "alpha", started=at("2024-01-15T09:00:00"))]
    usage_sample(cluster=cluster, now=at("2024-01-15T10:00:00"))
    fake_kube.pods = [
        pod(
            "job",
            "alpha",
            phase="Succeeded",
            started=at("2024-01-15T09:00:00"),
            finished=[at("2024-01-15T10:02:00")],
        )
    ]
    usage_sample(cluster=cluster, now=at("2024-01-15T10:05:00"))

    job = PodRecord.objects.get()
    assert job.last_running_at == at("2024-01-15T10:00:00")
    assert job.finished_at == at("2024-01-15T10:02:00")
    assert job.phase == "Succeeded"


def test_a_failed_page_raises_and_keeps_the_pages_before_it(cluster, fake_kube):
    fake_kube.pods = [pod(f"p{i}", "alpha") for i in range(5)]
    fake_kube.failures["pods"] = Failure(status=500, page=2)
    with pytest.raises(BadResponse):
        usage_sample(cluster=cluster, now=at("2024-01-15T10:00:00"))
    assert PodRecord.objects.count() == 2


def test_a_failed_node_list_keeps_known_instance_types(cluster, fake_kube):
    fake_kube.pods = [pod("train", "alpha")]
    usage_sample(cluster=cluster, now=at("2024-01-15T10:00:00"))
    fake_kube.failures["nodes"] = Failure(status=503)
    result = usage_sample(cluster=cluster, now=at("2024-01-15T10:05:00"))
    assert "node list failed" in result.problems[0]
    assert PodRecord.objects.get().instance_type == "m5.xlarge"


def test_pods_with_odd_specs_are_kept_and_flagged(cluster, fake_kube):
    no_uid = pod("ghost", "alpha")
    no_uid["metadata"]["uid"] = None
    fake_kube.pods = [
        pod("bare", "alpha", containers=[container()]),
        pod("huge", "alpha", containers=[container(requests={"cpu": "1e12", "memory": "1"})]),
        no_uid,
    ]
    result = usage_sample(cluster=cluster, now=at("2024-01-15T10:00:00"))
    assert result.malformed == 1
    assert PodRecord.objects.get(name="bare").requests_missing is True
    assert PodRecord.objects.get(name="huge").anomaly.startswith("implausible")
