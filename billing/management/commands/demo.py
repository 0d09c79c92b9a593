from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from billing.dev.demo import DEMO_PASSWORD, demo_load


class Command(BaseCommand):
    help = "Load the demo data (cluster, prices, a postpaid and a prepaid user). Safe to rerun."

    def handle(self, *args, **options):
        users = demo_load(today=timezone.localdate())
        self.stdout.write(
            self.style.SUCCESS(f"Demo data loaded. Logins (password for all: {DEMO_PASSWORD}):")
        )
        for role, email in users.items():
            self.stdout.write(f"  {role:9} {email}")
