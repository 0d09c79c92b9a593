"""Cluster registry rules: registering clusters and the staff API tests. Putting a user on a
cluster is provisioning's (accounts.services.cluster_assign)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from clusters.hopsworks import HopsworksCall, HopsworksClient, HopsworksError
from clusters.models import Cluster


class ClusterError(Exception):
    pass


class FleetFull(ClusterError):
    """No active cluster has room. Retryable: the signup waits until staff add capacity."""

    retryable = True


@transaction.atomic
def cluster_register(
    *,
    name: str,
    hopsworks_url: str,
    api_key: str,
    kubeconfig: str,
    capacity: int | None = None,
    region: str | None = None,
    auth0_client_id: str | None = None,
) -> tuple[Cluster, bool]:
    """Create or update the cluster called `name`; returns (cluster, created)."""
    if not name or not hopsworks_url.startswith(("http://", "https://")):
        raise ClusterError("A cluster needs a name and an http(s) Hopsworks URL.")
    if capacity is not None and capacity < 0:
        raise ClusterError("Capacity cannot be negative.")
    cluster = Cluster.objects.select_for_update().filter(name=name).first()
    created = cluster is None
    cluster = cluster or Cluster(name=name)
    cluster.hopsworks_url = hopsworks_url
    cluster.api_key = api_key
    cluster.kubeconfig = kubeconfig
    if capacity is not None:
        cluster.capacity = capacity
    if region is not None:
        cluster.region = region
    if auth0_client_id is not None:
        cluster.auth0_client_id = auth0_client_id
    cluster.full_clean()
    cluster.save()
    return cluster, created


@dataclass
class HopsworksReport:
    """What the staff panel and `test_hopsworks` show: each request and its answer."""

    cluster: Cluster
    calls: list[HopsworksCall] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)


def cluster_test_connection(*, cluster: Cluster) -> HopsworksReport:
    client = HopsworksClient(cluster)
    call = client.connection_test()
    report = HopsworksReport(cluster=cluster, calls=client.calls)
    if call.status_code != 200:
        problem = call.error or f"status {call.status_code}"
        report.errors.append(f"{cluster.name}: {problem}")
    return report


def user_test_hopsworks(*, user) -> HopsworksReport:
    """Look the user up on their cluster (by OAuth subject, then email) and list their
    projects. Read-only."""
    if user.cluster_id is None:
        raise ClusterError(f"{user.email} has no cluster yet.")
    cluster = user.cluster
    client = HopsworksClient(cluster)
    report = HopsworksReport(cluster=cluster, calls=client.calls)
    try:
        found = None
        if user.auth0_subject and cluster.auth0_client_id:
            found = client.user_find(
                client_id=cluster.auth0_client_id, subject=user.auth0_subject, email=user.email
            )
        else:
            found = client.user_by_email(email=user.email)
        report.summary.append(
            f"Hopsworks user: {found.username} (id {found.id})" if found else "No Hopsworks user"
        )
        projects = client.projects_of(
            email=user.email, username=(found.username if found else user.hopsworks_username)
        )
        report.summary.append(
            "Projects: " + (", ".join(p.name for p in projects) if projects else "none")
        )
    except HopsworksError as exc:
        report.errors.append(str(exc))
    return report
