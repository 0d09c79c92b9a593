"""Storage and API calls per project, each from a source configured per cluster.

A quantity whose source is not configured or failed is None (not measured), never 0. A source
that failed makes the day partial (a later run can complete it); a source the cluster does not
configure is a standing choice, listed by `sources_not_configured` and noted on every run, and
does not hold the day back (otherwise such a cluster could never bill anything). Storage
(GiB, as everywhere in usage) comes from WebHDFS GETCONTENTSUMMARY through the Kubernetes
service proxy to the namenode: feature store = the Hive database
`/apps/hive/warehouse/<project lower-cased>_featurestore.db`, models = `/Projects/<name>/Models`,
datasets = `/Projects/<name>` minus its models. A path that does not exist measures 0.
API calls come from the cluster's Prometheus: one PromQL query per category, `{window}` replaced
by the day's length (e.g. `86400s`), evaluated at the end of the day; series carry the project's
`namespace` label (or a `project` label with the project name).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

from billing.ledger.calendar import day_bounds
from billing.ledger.money import round_cost
from billing.models import Resource
from clusters.kube import KubeClient, KubeError, Unauthorized, Unreachable
from clusters.models import Cluster, StorageSource
from clusters.prometheus import PrometheusError, prometheus_query
from usage.services.ownership import ProjectOwner
from usage.services.rules import GIB

STORAGE = {
    "featureStore": Resource.STORAGE_FEATURE_STORE,
    "models": Resource.STORAGE_MODELS,
    "datasets": Resource.STORAGE_DATASETS,
}
API_CALLS = {
    "featureStore": Resource.API_CALLS_FEATURE_STORE,
    "modelServing": Resource.API_CALLS_MODEL_SERVING,
    "jobs": Resource.API_CALLS_JOBS,
}

WEBHDFS_PARALLEL_CALLS = 8
Measured = dict[str, dict[str, Decimal | None]]  # project -> resource -> quantity


def sources_not_configured(cluster: Cluster) -> list[str]:
    """What this cluster does not measure at all, by configuration."""
    notes = []
    if cluster.storage_source != StorageSource.WEBHDFS or not cluster.webhdfs_proxy_path:
        notes.append("storage not measured: no storage source configured")
    if not cluster.prometheus_url:
        notes.append("API calls not measured: no Prometheus configured")
    else:
        queries = cluster.api_call_queries if isinstance(cluster.api_call_queries, dict) else {}
        notes += [
            f"API calls not measured: no query for {category}"
            for category in API_CALLS
            if not queries.get(category)
        ]
    return notes


def _unmeasured(projects: set[str], resources) -> Measured:
    return {project: dict.fromkeys(resources) for project in projects}


def storage_measure(
    *, cluster: Cluster, kube: KubeClient | None, projects: set[str]
) -> tuple[Measured, list[str]]:
    """GiB per project and storage resource, and the problems met."""
    result = _unmeasured(projects, STORAGE.values())
    if cluster.storage_source != StorageSource.WEBHDFS or not cluster.webhdfs_proxy_path:
        return result, []
    if kube is None:
        return result, ["storage not measured: Kubernetes is unavailable"]
    stop = threading.Event()  # set once the namenode is unreachable: do not wait out the rest

    def measure(project: str):
        if stop.is_set():
            return project, None
        try:
            return project, _webhdfs_project(cluster, kube, project)
        except (Unreachable, Unauthorized) as exc:
            stop.set()
            return project, exc
        except KubeError as exc:
            return project, exc

    # Three calls per project through the API server: a few at a time, not one by one.
    with ThreadPoolExecutor(max_workers=WEBHDFS_PARALLEL_CALLS) as pool:
        outcomes = list(pool.map(measure, sorted(projects)))
    unavailable = [exc for _, exc in outcomes if isinstance(exc, Unreachable | Unauthorized)]
    if unavailable:
        return result, [f"storage not measured: WebHDFS unavailable ({unavailable[0]})"]
    failed = []
    for project, outcome in outcomes:
        if isinstance(outcome, KubeError):
            failed.append(f"{project} ({outcome})")
        elif outcome is not None:
            result[project] = outcome
    problems = []
    if failed:
        problems.append(f"storage not measured for {len(failed)} project(s): {failed[0]}")
    return result, problems


def _webhdfs_project(cluster: Cluster, kube: KubeClient, project: str) -> dict:
    feature_store = _bytes(cluster, kube, f"/apps/hive/warehouse/{project.lower()}_featurestore.db")
    total = _bytes(cluster, kube, f"/Projects/{project}")
    models = _bytes(cluster, kube, f"/Projects/{project}/Models")
    return {
        Resource.STORAGE_FEATURE_STORE: _gib(feature_store),
        Resource.STORAGE_MODELS: _gib(models),
        Resource.STORAGE_DATASETS: _gib(max(total - models, 0)),
    }


def _bytes(cluster: Cluster, kube: KubeClient, path: str) -> int:
    base = cluster.webhdfs_proxy_path.rstrip("/")
    try:
        body = kube.proxy_get(f"{base}/webhdfs/v1{path}", [("op", "GETCONTENTSUMMARY")])
    except KubeError as exc:
        if exc.status == 404:
            return 0
        raise
    length = (body.get("ContentSummary") or {}).get("length")
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise KubeError(f"{path}: no content length in the WebHDFS answer")
    return length


def _gib(size: int) -> Decimal:
    return round_cost(Decimal(size) / GIB)


def api_calls_measure(
    *, cluster: Cluster, day: date, owners: dict[str, ProjectOwner]
) -> tuple[Measured, list[str]]:
    """Calls per project and category over the day, and the problems met."""
    projects = {owner.project for owner in owners.values()}
    result = _unmeasured(projects, API_CALLS.values())
    if not projects:
        return result, []
    if not cluster.prometheus_url:
        return result, []
    queries = cluster.api_call_queries if isinstance(cluster.api_call_queries, dict) else {}
    start, end = day_bounds(day)
    window = f"{int((end - start).total_seconds())}s"
    problems = []
    for category, resource in API_CALLS.items():
        template = queries.get(category)
        if not template:
            continue
        try:
            series = prometheus_query(
                base_url=cluster.prometheus_url, query=template.replace("{window}", window), at=end
            )
        except PrometheusError as exc:
            problems.append(f"API calls not measured for {category}: {exc}")
            continue
        counts = _per_project(series, owners)
        for project in projects:
            result[project][resource] = round_cost(counts.get(project, Decimal(0)))
    return result, problems


def _per_project(series, owners: dict[str, ProjectOwner]) -> dict[str, Decimal]:
    counts: dict[str, Decimal] = {}
    for labels, value in series:
        project = labels.get("project")
        if not project and labels.get("namespace") in owners:
            project = owners[labels["namespace"]].project
        if project:
            counts[project] = counts.get(project, Decimal(0)) + max(value, Decimal(0))
    return counts
