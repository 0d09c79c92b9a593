from __future__ import annotations

from datetime import date

from django.core.management.base import CommandError

from clusters.cli import ANY_CLUSTER_HELP, cluster_option, clusters_to_work_on
from config.commands import OperatorCommand
from usage.models import CollectionStatus
from usage.services import UsageDayRefused, usage_collect_day, usage_day_check, usage_default_day


def _day(value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--date must be YYYY-MM-DD, not {value!r}.") from exc
    try:
        usage_day_check(day=day)
    except UsageDayRefused as exc:
        raise CommandError(str(exc)) from exc
    return day


class Command(OperatorCommand):
    help = (
        "Collect, price and (for prepaid accounts) deduct one day's usage, now, for every "
        "active cluster or one. Reruns and backfills any past day; default yesterday. Exits "
        "non-zero unless every cluster-day is complete."
    )
    examples = (
        "collect_usage",
        "collect_usage --date 2026-11-24 --cluster eu1",
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", help="YYYY-MM-DD in the billing time zone (default: yesterday)"
        )
        cluster_option(parser, help=ANY_CLUSTER_HELP)

    def handle(self, *args, date=None, cluster=None, **options):
        day = _day(date) if date else usage_default_day()
        clusters = clusters_to_work_on(cluster, self.stdout)
        if not clusters:
            return
        not_complete = 0
        for item in clusters:
            run = usage_collect_day(cluster=item, day=day)
            reason = f": {run.reason}" if run.reason else ""
            self.stdout.write(f"{item} {day}: {run.status}{reason}")
            not_complete += run.status != CollectionStatus.COMPLETE
        if not_complete:
            raise CommandError(f"{not_complete} cluster-day(s) not complete.")
