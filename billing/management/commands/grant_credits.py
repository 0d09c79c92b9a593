from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.management.base import CommandError

from billing.ledger import BillingError, credits_grant, staff_grant_key
from billing.ledger.money import format_cents, to_cents
from billing.management.commands._accounts import account_for_email
from config.commands import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Grant promotional credits: grant_credits EMAIL AMOUNT --reason '...' (AMOUNT in dollars)."
    )
    examples = (
        'grant_credits alice@example.com 25 --reason "welcome credits"',
        'grant_credits alice@example.com 12.50 --reason "trial" --expires-at 2027-01-01T00:00Z',
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("amount", help="In major units, e.g. 25 or 12.50")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--expires-at", help="ISO date-time after which unused credits expire")
        parser.add_argument(
            "--idempotency-key",
            help="Reuse to make a retried grant a no-op (default: a new key per call)",
        )

    def handle(self, *args, email, amount, reason, expires_at, idempotency_key, **options):
        account = account_for_email(email)
        amount_cents = _parse_amount(amount)
        try:
            tx = credits_grant(
                account=account,
                amount_cents=amount_cents,
                idempotency_key=staff_grant_key(account_id=account.pk, request_key=idempotency_key),
                reason=reason,
                expires_at=_parse_datetime(expires_at),
            )
        except BillingError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Granted {format_cents(tx.amount_cents)} to {email}; balance "
            f"{format_cents(tx.balance_after_cents)} (transaction {tx.pk})."
        )


def _parse_amount(raw: str) -> int:
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise CommandError(f"Amount {raw!r} is not a number.") from exc
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise CommandError("Amount must have at most two decimal places.")
    return to_cents(value)


def _parse_datetime(raw: str | None):
    if not raw:
        return None
    from django.utils.dateparse import parse_datetime
    from django.utils.timezone import make_aware

    value = parse_datetime(raw)
    if value is None:
        raise CommandError(f"--expires-at {raw!r} is not an ISO date-time.")
    return value if value.tzinfo else make_aware(value)
