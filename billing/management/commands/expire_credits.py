from __future__ import annotations

from billing.ledger import credits_expire
from config.commands import OperatorCommand


class Command(OperatorCommand):
    help = "Post expiry transactions for promotional credits past their expiry date."
    examples = ("expire_credits",)

    def handle(self, *args, **options):
        posted = credits_expire()
        self.stdout.write(f"Expired {len(posted)} grant(s).")
