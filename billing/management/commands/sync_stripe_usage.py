from __future__ import annotations

from datetime import date

from django.core.management.base import CommandError

from billing.payments import gateway
from billing.payments.stripe_sync import usage_sync_stripe
from config.commands import OperatorCommand


class Command(OperatorCommand):
    help = "Report complete postpaid usage days to Stripe's meter (what the 03:00 job does)."
    examples = (
        "sync_stripe_usage",
        "sync_stripe_usage --date 2026-11-24",
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", type=date.fromisoformat, help="Only this day (YYYY-MM-DD).")

    def handle(self, *args, **options):
        try:
            result = usage_sync_stripe(day=options["date"])
        except gateway.StripeNotConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"sent {result.sent}, failed {result.failed}, stale {result.stale}, "
            f"needs staff {result.manual}, canceled {result.canceled}"
        )
        if result.stopped:
            raise CommandError(f"Stopped early, retry later: {result.stopped}")
