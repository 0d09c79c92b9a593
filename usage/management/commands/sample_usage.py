from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from clusters.kube import KubeError
from clusters.models import Cluster
from usage.services import usage_sample


class Command(BaseCommand):
    help = "Sample the pods of every active cluster (or one) into the pod rows, now."

    def add_arguments(self, parser):
        parser.add_argument("--cluster", type=int, help="Cluster id (default: every active one)")

    def handle(self, *args, cluster=None, **options):
        clusters = Cluster.objects.filter(is_active=True)
        if cluster is not None:
            clusters = Cluster.objects.filter(pk=cluster)
            if not clusters.exists():
                raise CommandError(f"No cluster with id {cluster}.")
        failed = 0
        for item in clusters.order_by("pk"):
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
