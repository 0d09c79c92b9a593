from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from clusters.cli import cluster_from_option, cluster_option, report_print
from clusters.services import (
    ClusterError,
    cluster_test_connection,
    user_test_hopsworks,
)
from config.commands import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Call a cluster's Hopsworks API (connection test, or a user's lookup and projects) and "
        "print each request, its status, latency and raw answer."
    )
    examples = (
        "test_hopsworks --cluster eu1",
        "test_hopsworks --cluster eu1 --user alice@example.com",
    )

    def add_arguments(self, parser):
        cluster_option(parser, required=True)
        parser.add_argument("--user", help="Email of a user on that cluster.")

    def handle(self, *args, **opts):
        cluster = cluster_from_option(opts["cluster"])
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
        report_print(self.stdout, report)
        if report.errors:
            raise CommandError("; ".join(report.errors))
