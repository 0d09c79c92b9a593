from __future__ import annotations

from django.core.management.base import CommandError

from clusters.cli import cluster_from_option, cluster_option
from clusters.kube import KubeError
from clusters.models import Cluster
from config.commands import OperatorCommand
from usage.services import usage_sample


class Command(OperatorCommand):
    help = (
        "Sample the pods of every active cluster (or one) into the pod rows, now (Celery beat "
        "does it every 5 minutes)."
    )
    examples = ("sample_usage", "sample_usage --cluster eu1")

    def add_arguments(self, parser):
        cluster_option(parser, help="The cluster's name or id (default: every active cluster)")

    def handle(self, *args, cluster=None, **options):
        if cluster is not None:
            clusters = [cluster_from_option(cluster)]
        else:
            clusters = list(Cluster.objects.filter(is_active=True).order_by("pk"))
        if not clusters:
            self.stdout.write(
                "Nothing to do: no active cluster. Add one with `manage.py register_cluster`."
            )
            return
        failed = 0
        for item in clusters:
            try:
                result = usage_sample(cluster=item)
            except KubeError as exc:
                failed += 1
                self.stderr.write(f"{item}: sampling failed: {exc}")
                continue
            notes = f" ({'; '.join(result.problems)})" if result.problems else ""
            self.stdout.write(f"{item}: {result.pods_seen} pod(s){notes}")
        if failed:
            raise CommandError(f"Sampling failed on {failed} cluster(s).")
