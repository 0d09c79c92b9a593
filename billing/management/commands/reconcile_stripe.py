from __future__ import annotations

from datetime import date, timedelta

from django.core.management.base import CommandError

from billing.ledger.calendar import billing_today
from billing.payments import gateway
from billing.payments.reconcile import stripe_reconcile
from config.commands import OperatorCommand


def _month(value: str) -> date:
    return date.fromisoformat(f"{value}-01")


class Command(OperatorCommand):
    help = "Compare ledger purchases and reported usage with Stripe; print each discrepancy."
    examples = ("reconcile_stripe --month 2026-10",)

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
