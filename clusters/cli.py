"""The `--cluster` option of the operator commands: a cluster's name or id, one lookup."""

from __future__ import annotations

from django.core.management.base import CommandError

from clusters.models import Cluster
from clusters.services import ClusterError, HopsworksReport, cluster_find

CLUSTER_HELP = "The cluster's name or id, as `manage.py register_cluster --name` gave it"
ANY_CLUSTER_HELP = "The cluster's name or id (default: every active cluster)"


def cluster_option(parser, *, required: bool = False, help: str = CLUSTER_HELP) -> None:
    parser.add_argument("--cluster", required=required, metavar="NAME_OR_ID", help=help)


def cluster_from_option(value: str) -> Cluster:
    try:
        return cluster_find(ref=value)
    except ClusterError as exc:
        raise CommandError(str(exc)) from exc


NO_ACTIVE_CLUSTER = "Nothing to do: no active cluster. Add one with `manage.py register_cluster`."


def clusters_from_option(value: str | None) -> list[Cluster]:
    """The cluster the option names, or every active cluster when it is absent (maybe none:
    the command then says NO_ACTIVE_CLUSTER)."""
    if value is not None:
        return [cluster_from_option(value)]
    return list(Cluster.objects.filter(is_active=True).order_by("pk"))


def clusters_to_work_on(value: str | None, out) -> list[Cluster]:
    """`clusters_from_option`, saying NO_ACTIVE_CLUSTER on `out` when there is none."""
    clusters = clusters_from_option(value)
    if not clusters:
        out.write(NO_ACTIVE_CLUSTER)
    return clusters


def report_print(out, report: HopsworksReport) -> None:
    """Each Hopsworks call of a report: request, status, latency, raw answer."""
    out.write(f"Cluster {report.cluster.name} at {report.cluster.hopsworks_url}")
    for call in report.calls:
        status = call.status_code or f"no answer ({call.error})"
        out.write(f"\n{call.method} {call.path} {call.params or ''}")
        out.write(f"  status {status}, {call.latency_ms} ms")
        out.write(call.pretty_body)
    for line in report.summary:
        out.write(line)
