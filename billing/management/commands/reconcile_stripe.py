from __future__ import annotations

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError

from billing.ledger.calendar import billing_today
from billing.payments import gateway
from billing.payments.reconcile import stripe_reconcile


def _month(value: str) -> date:
    return date.fromisoformat(f"{value}-01")


class Command(BaseCommand):
    help = "Compare ledger purchases and reported usage with Stripe; print each discrepancy."

    def add_arguments(self, parser):
        parser.add_argument("--month", type=_month, help="YYYY-MM (default: the previous month).")

    def handle(self, *args, **options):
        month = options["month"] or (billing_today().replace(day=1) - timedelta(days=1))
        try:
            found = stripe_reconcile(month=month)
        except gateway.StripeError as exc:
            raise CommandError(str(exc)) from exc
        for discrepancy in found:
            self.stdout.write(str(discrepancy))
        self.stdout.write(f"{month:%Y-%m}: {len(found)} discrepancy(ies).")
        if found:
            raise SystemExit(1)
