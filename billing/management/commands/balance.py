from __future__ import annotations

from billing.ledger import credits_balance
from billing.ledger.money import format_cents
from billing.management.commands._accounts import account_for_email
from config.commands import OperatorCommand


class Command(OperatorCommand):
    help = "Print an account's mode, status and credit balance: balance EMAIL"
    examples = ("balance alice@example.com",)

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, email, **options):
        account = account_for_email(email)
        balance = credits_balance(account=account)
        self.stdout.write(
            f"{account.user.email}: mode {account.mode}, status {account.status}, "
            f"balance {format_cents(balance, account.currency)}"
        )
