from __future__ import annotations

from django.core.management.base import CommandError

from clusters.cli import ANY_CLUSTER_HELP, cluster_option, clusters_to_work_on
from clusters.kube import KubeError
from config.commands import OperatorCommand
from usage.services import usage_sample


class Command(OperatorCommand):
    help = (
        "Sample the pods of every active cluster (or one) into the pod rows, now (Celery beat "
        "does it every 5 minutes)."
    )
    examples = ("sample_usage", "sample_usage --cluster eu1")

    def add_arguments(self, parser):
        cluster_option(parser, help=ANY_CLUSTER_HELP)

    def handle(self, *args, cluster=None, **options):
        clusters = clusters_to_work_on(cluster, self.stdout)
        if not clusters:
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
