from __future__ import annotations

import pytest

from accounts.models import User
from clusters.models import Cluster
from tests.accounts.fakes import (
    API_KEY,
    CLIENT_ID,
    HOPSWORKS_URL,
    cluster,
    fake_http,
    hopsworks,
    stripe_fake,
)
from tests.fakes.kube_server import FakeKube, deployment, namespace, pod

__all__ = ["cluster", "fake_http", "hopsworks", "stripe_fake"]

SERVING = {"serving.kserve.io/inferenceservice": "fraud", "serving.hops.works/id": "3"}


@pytest.fixture
def kube(settings):
    settings.KUBE_REQUEST_TIMEOUT = 0.5
    server = FakeKube(
        namespaces=[namespace("alice-proj")],
        deployments=[
            deployment("fraud-predictor", "alice-proj", replicas=2, labels=SERVING),
            deployment("fraud-idle", "alice-proj", replicas=0, labels=SERVING),
            deployment("feature-cache", "alice-proj", replicas=1),  # not a serving
            deployment("other-predictor", "bob-proj", replicas=1, labels=SERVING),
        ],
        pods=[
            pod("etl-1-abcde", "alice-proj", labels={"job-name": "etl-1", "execution": "7"}),
            pod(
                "etl-0-zzzzz",
                "alice-proj",
                phase="Succeeded",
                labels={"job-name": "etl-0", "execution": "6"},
            ),
            pod("jupyter-alice", "alice-proj", labels={"jupyter": "true"}),
        ],
        jobs=["alice-proj/etl-1", "alice-proj/etl-0"],
    ).start()
    yield server
    server.stop()


@pytest.fixture
def alice(db, hopsworks, kube) -> User:
    """A provisioned user on a cluster whose Hopsworks and Kubernetes are faked: project
    alice_proj (namespace alice-proj) runs a serving and a job; bob's project runs a serving."""
    cluster = Cluster.objects.create(
        name="c1",
        hopsworks_url=HOPSWORKS_URL,
        api_key=API_KEY,
        kubeconfig=kube.kubeconfig(),
        auth0_client_id=CLIENT_ID,
        capacity=10,
    )
    user = User.objects.create_user(
        "alice@example.com",
        cluster=cluster,
        hopsworks_username="alice000",
        hopsworks_user_id=10001,
    )
    hw_user = hopsworks.add_user(email=user.email, username="alice000", user_id=10001)
    hopsworks.add_project(name="alice_proj", creator=hw_user)
    bob = hopsworks.add_user(email="bob@example.com", username="bob00000", user_id=10002)
    hopsworks.add_project(name="bob_proj", creator=bob)
    return user
