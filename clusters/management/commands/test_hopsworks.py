from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from clusters.models import Cluster
from clusters.services import (
    ClusterError,
    HopsworksReport,
    cluster_test_connection,
    user_test_hopsworks,
)


class Command(BaseCommand):
    help = "Call a cluster's Hopsworks API (connection test, or a user's lookup and projects)."

    def add_arguments(self, parser):
        parser.add_argument("--cluster", required=True, help="Cluster name.")
        parser.add_argument("--user", help="Email of a user on that cluster.")

    def handle(self, *args, **opts):
        cluster = Cluster.objects.filter(name=opts["cluster"]).first()
        if cluster is None:
            raise CommandError(f"No cluster named {opts['cluster']!r}.")
        if opts["user"]:
            user = get_user_model().objects.filter(email__iexact=opts["user"]).first()
            if user is None:
                raise CommandError(f"No user {opts['user']!r}.")
            if user.cluster_id != cluster.pk:
                raise CommandError(f"{user.email} is not on cluster {cluster.name}.")
            try:
                report = user_test_hopsworks(user=user)
            except ClusterError as exc:
                raise CommandError(str(exc)) from exc
        else:
            report = cluster_test_connection(cluster=cluster)
        self._print(report)
        if report.errors:
            raise CommandError("; ".join(report.errors))

    def _print(self, report: HopsworksReport) -> None:
        self.stdout.write(f"Cluster {report.cluster.name} at {report.cluster.hopsworks_url}")
        for call in report.calls:
            status = call.status_code or f"no answer ({call.error})"
            self.stdout.write(f"\n{call.method} {call.path} {call.params or ''}")
            self.stdout.write(f"  status {status}, {call.latency_ms} ms")
            self.stdout.write(call.pretty_body)
        for line in report.summary:
            self.stdout.write(line)
