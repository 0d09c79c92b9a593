"""Billing accounts, prices and the credit ledger. Money in integer minor units (cents) on the
ledger; unit prices and line costs as Decimal with fixed places. Rounding: billing/money.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class BillingMode(models.TextChoices):
    POSTPAID = "postpaid", "Postpaid (Stripe invoice)"
    PREPAID = "prepaid", "Prepaid (credits)"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    IN_ARREARS = "in_arrears", "In arrears"
    SUSPENDED = "suspended", "Suspended"


class BillingAccount(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="billing_account"
    )
    mode = models.CharField(
        max_length=16, choices=BillingMode.choices, default=BillingMode.POSTPAID
    )
    status = models.CharField(
        max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    # Per-account opt-in to prepaid billing, turned on by staff (the global switch is a setting).
    prepaid_enabled = models.BooleanField(default=False)
    currency = models.CharField(max_length=3, default="usd")
    stripe_customer_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True)
    # The newest Stripe invoice/subscription event applied to the status (Unix time, event
    # id): an older one arriving later applies nothing (billing/payments/event_order.py).
    status_event_created = models.BigIntegerField(null=True, blank=True)
    status_event_id = models.CharField(max_length=255, blank=True)
    # Cache of the ledger: always equal to the sum of this account's credit transactions.
    balance_cents = models.BigIntegerField(default=0)
    low_balance_notified = models.BooleanField(default=False)
    # The customer's default payment method as Stripe's webhooks last told us (never fetched
    # per page view); blank = none on file. `payment_method_event_at`: the Stripe `created` of
    # the event that set it, so an older event delivered late cannot undo a newer one.
    payment_method_id = models.CharField(max_length=255, blank=True)
    payment_method_brand = models.CharField(max_length=32, blank=True)
    payment_method_last4 = models.CharField(max_length=4, blank=True)
    payment_method_event_at = models.BigIntegerField(default=0)
    # Set when something needs a person (an open dispute); shown and filterable in the admin.
    staff_flag = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user__email"]

    def __str__(self) -> str:
        return f"{self.user} ({self.mode})"

    @property
    def is_prepaid(self) -> bool:
        return self.mode == BillingMode.PREPAID


class BillingModeChange(models.Model):
    """Audit row for every switch between postpaid and prepaid."""

    account = models.ForeignKey(
        BillingAccount, on_delete=models.PROTECT, related_name="mode_changes"
    )
    from_mode = models.CharField(max_length=16, choices=BillingMode.choices)
    to_mode = models.CharField(max_length=16, choices=BillingMode.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.account}: {self.from_mode} -> {self.to_mode}"


class Resource(models.TextChoices):
    INSTANCE_HOURS = "instance_hours", "Instance hours"
    CPU_HOURS = "cpu_hours", "CPU hours"
    GPU_HOURS = "gpu_hours", "GPU hours"
    MEMORY_GB_HOURS = "memory_gb_hours", "Memory GB-hours"
    STORAGE_FEATURE_STORE = "storage_feature_store", "Storage: feature store"
    STORAGE_MODELS = "storage_models", "Storage: models"
    STORAGE_DATASETS = "storage_datasets", "Storage: datasets"
    API_CALLS_FEATURE_STORE = "api_calls_feature_store", "API calls: feature store"
    API_CALLS_MODEL_SERVING = "api_calls_model_serving", "API calls: model serving"
    API_CALLS_JOBS = "api_calls_jobs", "API calls: jobs"


RESOURCE_UNITS = {
    Resource.INSTANCE_HOURS: "hour",
    Resource.CPU_HOURS: "CPU-hour",
    Resource.GPU_HOURS: "GPU-hour",
    Resource.MEMORY_GB_HOURS: "GB-hour",
    Resource.STORAGE_FEATURE_STORE: "GB-month",
    Resource.STORAGE_MODELS: "GB-month",
    Resource.STORAGE_DATASETS: "GB-month",
    Resource.API_CALLS_FEATURE_STORE: "1,000 calls",
    Resource.API_CALLS_MODEL_SERVING: "1,000 calls",
    Resource.API_CALLS_JOBS: "1,000 calls",
}

# Units of what is measured and stored on usage line items (per day): storage is a daily
# snapshot in GB (a month of them sums to GB-days), API calls are single calls. Prices use
# RESOURCE_UNITS; billing.ledger.prices.cost_of converts between the two.
MEASURED_UNITS = {
    **RESOURCE_UNITS,
    Resource.STORAGE_FEATURE_STORE: "GB-day",
    Resource.STORAGE_MODELS: "GB-day",
    Resource.STORAGE_DATASETS: "GB-day",
    Resource.API_CALLS_FEATURE_STORE: "calls",
    Resource.API_CALLS_MODEL_SERVING: "calls",
    Resource.API_CALLS_JOBS: "calls",
}

# The resource groups: storage is priced per GB-month, API calls per 1,000.
STORAGE_RESOURCES = frozenset(
    {Resource.STORAGE_FEATURE_STORE, Resource.STORAGE_MODELS, Resource.STORAGE_DATASETS}
)
API_CALL_RESOURCES = frozenset(
    {Resource.API_CALLS_FEATURE_STORE, Resource.API_CALLS_MODEL_SERVING, Resource.API_CALLS_JOBS}
)

UNIT_PRICE_FIELD = {"max_digits": 18, "decimal_places": 8}


class Price(models.Model):
    """Catalogue price: applies from `effective_from` until a later row for the same key."""

    resource = models.CharField(max_length=32, choices=Resource.choices)
    # Only for instance hours (and optionally per-type CPU/GPU prices); blank = any type.
    instance_type = models.CharField(max_length=64, blank=True)
    unit_price = models.DecimalField(**UNIT_PRICE_FIELD)
    effective_from = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["resource", "instance_type", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["resource", "instance_type", "effective_from"], name="price_unique_key"
            ),
            models.CheckConstraint(
                condition=models.Q(unit_price__gte=0), name="price_unit_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        kind = f"{self.resource}[{self.instance_type}]" if self.instance_type else self.resource
        return f"{kind} {self.unit_price}/{self.unit} from {self.effective_from}"

    @property
    def unit(self) -> str:
        return RESOURCE_UNITS[Resource(self.resource)]


class CustomPrice(models.Model):
    """Per-account override of the catalogue within [effective_from, effective_to)."""

    account = models.ForeignKey(
        BillingAccount, on_delete=models.CASCADE, related_name="custom_prices"
    )
    resource = models.CharField(max_length=32, choices=Resource.choices)
    instance_type = models.CharField(max_length=64, blank=True)
    unit_price = models.DecimalField(**UNIT_PRICE_FIELD)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True, help_text="Exclusive; blank = open.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account", "resource", "-effective_from"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(unit_price__gte=0), name="custom_price_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(effective_to__isnull=True)
                | models.Q(effective_to__gt=models.F("effective_from")),
                name="custom_price_window_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.resource} {self.unit_price}"


class ImmutableRowError(Exception):
    pass


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableRowError("Credit transactions are append-only: post a correction instead.")

    def delete(self):
        raise ImmutableRowError("Credit transactions are append-only: post a correction instead.")


class TransactionKind(models.TextChoices):
    PURCHASE = "purchase", "Purchase"
    GRANT = "grant", "Grant"
    USAGE = "usage", "Usage"
    ADJUSTMENT = "adjustment", "Adjustment"
    REFUND = "refund", "Refund"
    EXPIRY = "expiry", "Expiry"
    DISPUTE = "dispute", "Dispute"
    DISPUTE_WON = "dispute_won", "Dispute won"


class Funding(models.TextChoices):
    PAID = "paid", "Paid"
    PROMOTIONAL = "promotional", "Promotional"


class CreditTransaction(models.Model):
    """The credit ledger: append-only, one row per posting, keyed by a unique idempotency key.

    A PostgreSQL trigger (migration 0002) refuses UPDATE and DELETE as well.
    """

    account = models.ForeignKey(
        BillingAccount, on_delete=models.PROTECT, related_name="transactions"
    )
    kind = models.CharField(max_length=16, choices=TransactionKind.choices)
    amount_cents = models.BigIntegerField(help_text="Signed: credits in are positive.")
    balance_after_cents = models.BigIntegerField()
    idempotency_key = models.CharField(max_length=255, unique=True)
    funding = models.CharField(max_length=16, choices=Funding.choices, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # What caused it: "checkout_session:cs_...", "usage_day:42", "lot:7" ...
    source_ref = models.CharField(max_length=255, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        # (account, id): the latest posting of an account, the billing page cache version.
        indexes = [
            models.Index(fields=["account", "-created_at"]),
            models.Index(fields=["account", "id"]),
        ]
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount_cents=0), name="credit_tx_nonzero")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_cents:+d} ({self.idempotency_key})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableRowError(
                "Credit transactions are append-only: post a correction instead."
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRowError("Credit transactions are append-only: post a correction instead.")


class CreditPurchase(models.Model):
    """One attempt to buy credits through Stripe Checkout. The local row exists before Stripe
    is called, so its id keys the Checkout Session (a retried request cannot open two)."""

    class Status(models.TextChoices):
        CREATED = "created", "Created (session not opened yet)"
        OPEN = "open", "Waiting for payment"
        PAID = "paid", "Paid, credits granted"
        FAILED = "failed", "Payment failed"
        EXPIRED = "expired", "Expired"

    account = models.ForeignKey(BillingAccount, on_delete=models.PROTECT, related_name="purchases")
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="usd")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    stripe_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    amount_paid_cents = models.BigIntegerField(null=True, blank=True)
    transaction = models.OneToOneField(
        CreditTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="purchase"
    )
    failure_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_cents__gt=0), name="credit_purchase_positive"
            )
        ]

    def __str__(self) -> str:
        return f"purchase {self.pk} {self.amount_cents} {self.status}"


class MeterReport(models.Model):
    """One meter event we send (or decided not to send) to Stripe for a postpaid account's
    usage day. The row exists before Stripe is called: its `identifier` is the meter event's
    identifier, so a resend after a timeout cannot count twice. A day's reported value is the
    sum of its accounted rows; a correction adds a row with the next revision."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (not sent yet)"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (retried with backoff)"
        STALE = "stale", "Stale (past Stripe's 35-day window; for staff)"
        CANCELED = "canceled", "Canceled in Stripe (superseded by a later revision)"
        MANUAL = "manual", "Needs staff (over-reported past the 24 h cancel window)"

    # Rows whose value counts as reported for the day (canceled ones no longer count).
    ACCOUNTED = [Status.PENDING, Status.SENT, Status.FAILED, Status.STALE, Status.MANUAL]

    account = models.ForeignKey(
        BillingAccount, on_delete=models.PROTECT, related_name="meter_reports"
    )
    usage_date = models.DateField()
    revision = models.PositiveIntegerField()
    identifier = models.CharField(max_length=100, unique=True)
    event_name = models.CharField(max_length=100)
    # Meter units (cents). Negative only on a MANUAL row: Stripe takes no negative events.
    value = models.BigIntegerField()
    timestamp = models.DateTimeField(help_text="The event's timestamp: the usage day's noon.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    stripe_response = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-usage_date", "-revision"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "usage_date", "revision"], name="meter_report_unique_revision"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.usage_date} r{self.revision} {self.value} {self.status}"


class PriceImport(models.Model):
    """One applied import of the price catalogue file (`manage.py prices import`): what it
    changed and, when it changed prices of days already billed, who forced it and why."""

    created_at = models.DateTimeField(auto_now_add=True)
    performed_by = models.CharField(max_length=150, help_text="Operator (OS user) or `demo`.")
    source = models.CharField(max_length=255, help_text="The file imported.")
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the file's text.")
    added = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    changes = models.JSONField(default=list, help_text="Each price row added, changed, removed.")
    forced = models.BooleanField(default=False, help_text="Changed prices of billed days.")
    reason = models.TextField(blank=True)
    billed_days = models.JSONField(
        default=dict, help_text="Per changed row, the billed days it reprices (forced imports)."
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        forced = " (forced)" if self.forced else ""
        return f"Price import {self.created_at:%Y-%m-%d %H:%M} by {self.performed_by}{forced}"


class DunningCase(models.Model):
    """A postpaid account's unpaid invoice: `invoice.payment_failed` opens it with a grace
    period (DUNNING_GRACE_DAYS), `invoice.paid` closes it; when the grace period runs out
    the account is suspended. At most one open case per account."""

    class Status(models.TextChoices):
        OPEN = "open", "Open (grace period)"
        OVERDUE = "overdue", "Grace period over (suspended)"
        PAID = "paid", "Paid"

    account = models.ForeignKey(
        BillingAccount, on_delete=models.PROTECT, related_name="dunning_cases"
    )
    stripe_invoice_id = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    amount_due_cents = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, default="usd")
    started_at = models.DateTimeField()
    grace_ends_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=models.Q(status__in=["open", "overdue"]),
                name="dunning_one_open_case_per_account",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.stripe_invoice_id} ({self.status})"


class DunningReminder(models.Model):
    """One reminder email of a case, recorded before it is sent: the unique (case, kind) makes
    each reminder go out exactly once, however often the webhook or the beat job runs."""

    class Kind(models.TextChoices):
        FIRST = "day0", "Day 0: payment failed"
        MIDDLE = "day3", "Day 3: reminder"
        LAST = "last", "Last day of the grace period"

    case = models.ForeignKey(DunningCase, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    # Null until the email went out; the beat job sends rows left unsent by a crash.
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["case", "kind"], name="dunning_reminder_once")
        ]

    def __str__(self) -> str:
        return f"{self.case}: {self.kind}"


class ChargeReversal(models.Model):
    """Money that came back out of a payment: a Stripe refund (`re_...`) or dispute (`dp_...`).
    On a credit purchase the ledger is debited once per reversal (and credited back when a
    dispute is won); on a postpaid invoice it is recorded and shown, the ledger untouched."""

    class Kind(models.TextChoices):
        REFUND = "refund", "Refund"
        DISPUTE = "dispute", "Dispute"

    class Target(models.TextChoices):
        CREDITS = "credits", "Credit purchase"
        INVOICE = "invoice", "Invoice"

    account = models.ForeignKey(
        BillingAccount, on_delete=models.PROTECT, related_name="charge_reversals"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    target = models.CharField(max_length=16, choices=Target.choices)
    stripe_id = models.CharField(max_length=255, unique=True)
    stripe_charge_id = models.CharField(max_length=255, db_index=True)
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="usd")
    # Refund: succeeded / pending / failed ...; dispute: Stripe's status (won, lost, ...).
    status = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_cents__gt=0), name="charge_reversal_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.stripe_id} {self.amount_cents}"


def default_alert_percents() -> list[int]:
    return [50, 80, 100]


class BudgetSettings(models.Model):
    """What one account asked to be warned about. Absent row: no budget, and the default
    low-balance threshold (LOW_BALANCE_THRESHOLD_CENTS) for prepaid accounts."""

    account = models.OneToOneField(BillingAccount, on_delete=models.CASCADE, related_name="budget")
    # Spend per billing month (collected days plus today's estimate); null: no budget.
    monthly_budget_cents = models.BigIntegerField(null=True, blank=True)
    alert_percents = models.JSONField(default=default_alert_percents)
    # Prepaid: alert when available credits fall below each; null: the global default.
    low_balance_thresholds_cents = models.JSONField(null=True, blank=True)
    # A hard budget: reaching it pauses the account's running work (billing.budgets.caps).
    hard_cap = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(monthly_budget_cents__isnull=True)
                | models.Q(monthly_budget_cents__gt=0),
                name="budget_positive",
            )
        ]

    def __str__(self) -> str:
        return f"budget of {self.account_id}: {self.monthly_budget_cents}"


class SpendAlert(models.Model):
    """One alert crossing, recorded before its email is sent: the unique key makes it once per
    crossing per period, whichever of several concurrent checks sees the crossing first."""

    class Kind(models.TextChoices):
        BUDGET = "budget", "Budget"
        LOW_BALANCE = "low_balance", "Low balance"

    account = models.ForeignKey(BillingAccount, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Budget: the percentage; low balance: the threshold in cents.
    threshold = models.BigIntegerField()
    # Budget: "YYYY-MM:<budget cents>" (a new budget re-arms); low balance: "after-tx:<id>",
    # the last posting that added credits (buying credits re-arms).
    period = models.CharField(max_length=64)
    # The month's spend (budget) or the available credits (low balance) when it was crossed.
    amount_cents = models.BigIntegerField()
    emailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind", "threshold", "period"], name="spend_alert_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind} {self.threshold} {self.period}"


class SpendPause(models.Model):
    """One pause of an account's running work by its spend cap (billing.budgets.caps), from the
    crossing to its lift. At most one open per account (the unique condition): of several
    checks that see the same crossing at once exactly one inserts it. accounts.suspension
    stops and lifts the work to match."""

    class Reason(models.TextChoices):
        HARD_CAP = "hard_cap", "Hard monthly budget reached"
        PREPAID_AVAILABLE = "prepaid_available", "Available credits below zero"

    account = models.ForeignKey(BillingAccount, on_delete=models.CASCADE, related_name="pauses")
    reason = models.CharField(max_length=32, choices=Reason.choices)
    # Hard cap: "YYYY-MM" (the new month lifts); prepaid: "after-tx:<id>", the last posting that
    # added credits (buying credits is what may lift it).
    period = models.CharField(max_length=64)
    # The month's spend (hard cap) or available credits (prepaid) when it was crossed, and the
    # cap it was measured against (0 for prepaid).
    amount_cents = models.BigIntegerField()
    limit_cents = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=models.Q(lifted_at__isnull=True),
                name="spend_pause_one_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.reason} {self.period}"


class AutoTopUp(models.Model):
    """A prepaid account's auto top-up: when the balance falls below `threshold_cents`, the
    saved card is charged `amount_cents` off-session (billing.budgets.auto_topup finds the
    crossing, billing.payments.auto_topup charges). Absent row: off."""

    account = models.OneToOneField(
        BillingAccount, on_delete=models.CASCADE, related_name="auto_topup"
    )
    enabled = models.BooleanField(default=False)
    threshold_cents = models.BigIntegerField()
    amount_cents = models.BigIntegerField()
    # Failed top-ups in a row; at AUTO_TOPUP_MAX_FAILURES it turns itself off (a success resets).
    consecutive_failures = models.PositiveSmallIntegerField(default=0)
    # Why it turned itself off, shown as a banner until the user turns it on again.
    disabled_reason = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(threshold_cents__gt=0, amount_cents__gt=0),
                name="auto_topup_positive",
            )
        ]

    def __str__(self) -> str:
        return f"auto top-up of {self.account_id}: {self.amount_cents} below {self.threshold_cents}"


class AutoTopUpCharge(models.Model):
    """One top-up, recorded at the crossing before Stripe is called: its id keys the
    PaymentIntent, and the unique (account, crossing) makes one crossing one charge."""

    class Status(models.TextChoices):
        PENDING = "pending", "Recorded, not charged yet"
        PROCESSING = "processing", "Charged, waiting for Stripe"
        SUCCEEDED = "succeeded", "Paid, credits granted"
        REQUIRES_ACTION = "requires_action", "The bank asks for authentication"
        FAILED = "failed", "Failed"

    account = models.ForeignKey(
        BillingAccount, on_delete=models.PROTECT, related_name="auto_topup_charges"
    )
    # "<threshold>:after-tx:<id>": the last posting after which the balance was at or above
    # the threshold. It changes only once the balance has been back above the threshold.
    crossing = models.CharField(max_length=64)
    threshold_cents = models.BigIntegerField()
    amount_cents = models.BigIntegerField()
    balance_cents = models.BigIntegerField(help_text="The balance when it was crossed.")
    currency = models.CharField(max_length=3, default="usd")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    stripe_payment_intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    transaction = models.OneToOneField(
        CreditTransaction,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="auto_topup_charge",
    )
    failure_reason = models.TextField(blank=True)
    # The failure email, sent once per charge (claimed by a conditional update).
    notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "crossing"], name="auto_topup_once"),
            models.CheckConstraint(
                condition=models.Q(amount_cents__gt=0), name="auto_topup_charge_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"auto top-up {self.pk} {self.amount_cents} {self.status}"
