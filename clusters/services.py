"""Cluster registry rules: registering clusters and the staff API tests. Putting a user on a
cluster is provisioning's (accounts.services.cluster_assign)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import yaml
from django.db import transaction

from clusters.hopsworks import HopsworksCall, HopsworksClient, HopsworksError
from clusters.models import Cluster


class ClusterError(Exception):
    pass


class FleetFull(ClusterError):
    """No active cluster has room. Retryable: the signup waits until staff add capacity."""

    retryable = True


API_BASE_PATH = "/hopsworks-api/api"


def hopsworks_api_base(url: str) -> str:
    """The REST base of a cluster from what an operator types: the cluster's address
    (`https://c1.example.com`, with or without a UI path such as `/hopsworks/` or `/p/12`) or
    the API base itself (`https://c1.example.com/hopsworks-api/api`). The clients append
    paths to the base, so a bare address would make every later call "not found"."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ClusterError(f"The Hopsworks URL must be an http(s) address, not {url!r}.")
    path = parts.path.rstrip("/")
    if "/hopsworks-api" in path:
        prefix = path[: path.index("/hopsworks-api")]  # a proxy prefix before the API stays
    else:
        prefix = ""
    return urlunsplit((parts.scheme, parts.netloc, prefix + API_BASE_PATH, "", ""))


def kubeconfig_validate(kubeconfig: str) -> str:
    """Check a kubeconfig the way the client will use it; return the API server's address.
    A kubeconfig must parse as YAML and name a current context whose cluster has a server."""
    try:
        data = yaml.safe_load(kubeconfig)
    except yaml.YAMLError as exc:
        raise ClusterError(f"The kubeconfig is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ClusterError("The kubeconfig is not a YAML mapping (is it the right file?).")
    current = data.get("current-context")
    if not current:
        raise ClusterError("The kubeconfig has no current-context.")
    context = _named(data.get("contexts"), current, "context")
    cluster_name = (context.get("context") or {}).get("cluster")
    cluster = _named(data.get("clusters"), cluster_name, "cluster")
    server = (cluster.get("cluster") or {}).get("server")
    if not server:
        raise ClusterError(f"The kubeconfig's cluster {cluster_name!r} has no server address.")
    return server


def _named(entries, name, what: str) -> dict:
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    raise ClusterError(f"The kubeconfig has no {what} named {name!r}.")


def cluster_find(*, ref: str | int) -> Cluster:
    """A cluster by name or by id, as an operator gives it (`eu1` or `3`); a name wins."""
    text = str(ref).strip()
    cluster = Cluster.objects.filter(name=text).first()
    if cluster is None and text.isdigit():
        cluster = Cluster.objects.filter(pk=int(text)).first()
    if cluster is None:
        known = ", ".join(Cluster.objects.order_by("name").values_list("name", flat=True))
        raise ClusterError(f"No cluster named or numbered {text!r} (clusters: {known or 'none'}).")
    return cluster


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
    """Create or update the cluster called `name`; returns (cluster, created). The URL may be
    the cluster's address or its API base (the base is stored); the kubeconfig must name a
    current context with a server."""
    if not name:
        raise ClusterError("A cluster needs a name.")
    hopsworks_url = hopsworks_api_base(hopsworks_url)
    kubeconfig_validate(kubeconfig)
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
