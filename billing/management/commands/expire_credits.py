from __future__ import annotations

from django.core.management.base import BaseCommand

from billing.ledger import credits_expire


class Command(BaseCommand):
    help = "Post expiry transactions for promotional credits past their expiry date."

    def handle(self, *args, **options):
        posted = credits_expire()
        self.stdout.write(f"Expired {len(posted)} grant(s).")
