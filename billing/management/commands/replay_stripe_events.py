from __future__ import annotations

from config.commands import OperatorCommand
from webhooks.services import stripe_events_replay


class Command(OperatorCommand):
    help = "Reprocess stored Stripe webhook events that failed or were never processed."
    examples = ("replay_stripe_events --failed",)

    def add_arguments(self, parser):
        parser.add_argument("--failed", action="store_true", help="Only the failed ones.")

    def handle(self, *args, **options):
        events = stripe_events_replay(failed_only=options["failed"])
        for event in events:
            line = f"{event.external_id} {event.event_type}: {event.status}"
            self.stdout.write(line + (f" ({event.error})" if event.error else ""))
        failed = sum(1 for e in events if e.status == "failed")
        self.stdout.write(f"Replayed {len(events)} event(s), {failed} failed.")
