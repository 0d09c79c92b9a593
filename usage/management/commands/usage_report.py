from __future__ import annotations

import json
from datetime import date

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from config.commands import OperatorCommand
from usage.services import usage_report


class Command(OperatorCommand):
    help = "Print a user's usage of one day, per cluster, as JSON."
    examples = ("usage_report --user alice@example.com --date 2026-11-24 --format json",)

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="The user's email")
        parser.add_argument("--date", required=True, help="YYYY-MM-DD")
        parser.add_argument("--format", choices=["json"], default="json")

    def handle(self, *args, user, date, **options):
        try:
            day = _parse_day(date)
        except ValueError as exc:
            raise CommandError(f"--date must be YYYY-MM-DD, not {date!r}.") from exc
        account = get_user_model().objects.filter(email__iexact=user.strip()).first()
        if account is None:
            raise CommandError(f"No user with email {user!r}.")
        self.stdout.write(json.dumps(usage_report(user=account, day=day), indent=2))


def _parse_day(value: str) -> date:
    return date.fromisoformat(value)
