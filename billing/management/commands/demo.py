from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError

from billing.dev.demo import DEMO_PASSWORD, demo_load
from billing.ledger.calendar import billing_today
from config.commands import OperatorCommand


class Command(OperatorCommand):
    help = "Load the demo data (cluster, prices, a postpaid and a prepaid user). Safe to rerun."
    examples = ("demo",)

    def handle(self, *args, **options):
        if settings.IS_PRODUCTION:
            raise CommandError("Demo data is for development; refusing with APP_ENV=production.")
        users = demo_load(today=billing_today())
        self.stdout.write(
            self.style.SUCCESS(f"Demo data loaded. Logins (password for all: {DEMO_PASSWORD}):")
        )
        for role, email in users.items():
            self.stdout.write(f"  {role:9} {email}")
