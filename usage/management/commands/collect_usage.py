from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from clusters.models import Cluster
from usage.models import CollectionStatus
from usage.services import usage_collect_day, usage_default_day


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--date must be YYYY-MM-DD, not {value!r}.") from exc


class Command(BaseCommand):
    help = (
        "Collect, price and (for prepaid accounts) deduct one day's usage, now, for every "
        "active cluster or one. Reruns and backfills any day; default yesterday."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD in the billing time zone")
        parser.add_argument("--cluster", type=int, help="Cluster id (default: every active one)")

    def handle(self, *args, date=None, cluster=None, **options):
        day = _day(date) if date else usage_default_day()
        clusters = Cluster.objects.filter(is_active=True)
        if cluster is not None:
            clusters = Cluster.objects.filter(pk=cluster)
            if not clusters.exists():
                raise CommandError(f"No cluster with id {cluster}.")
        not_complete = 0
        for item in clusters.order_by("pk"):
            run = usage_collect_day(cluster=item, day=day)
            reason = f": {run.reason}" if run.reason else ""
            self.stdout.write(f"{item} {day}: {run.status}{reason}")
            not_complete += run.status != CollectionStatus.COMPLETE
        if not_complete:
            raise CommandError(f"{not_complete} cluster-day(s) not complete.")
