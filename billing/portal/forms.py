"""Forms of the billing pages and the staff panel. Amounts typed by people are dollars with at
most two decimals; they become integer cents through billing.ledger.money and
are then checked by the same service rule every door uses."""

from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal

from django import forms
from django.conf import settings

from billing.ledger import InvalidAmount
from billing.ledger.money import format_cents, to_cents
from billing.payments import validate_purchase_amount

PRESET_AMOUNTS_CENTS = (25_00, 50_00, 100_00, 250_00)
CUSTOM = "custom"
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def _dollars_field(**kwargs) -> forms.DecimalField:
    return forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"), **kwargs)


class CreditPurchaseForm(forms.Form):
    """A preset or another amount. Typing an amount means "another amount" (the page's script
    selects it as you type; without the script the server reads it the same way), and every
    amount out of range gets the one message that matches the hint."""

    amount = forms.ChoiceField(label="Amount", widget=forms.RadioSelect, required=False)
    custom_amount = forms.DecimalField(
        label="Custom amount (USD)",
        max_digits=12,
        decimal_places=2,
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )

    def __init__(self, *args, currency: str | None = None, balance_cents: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        currency = self.currency = currency or settings.BILLING_CURRENCY
        self.fields["amount"].choices = [
            (str(c), format_cents(c, currency)) for c in PRESET_AMOUNTS_CENTS
        ] + [(CUSTOM, "Another amount")]
        self.fields["custom_amount"].label = f"Custom amount ({currency.upper()})"
        self.fields["custom_amount"].help_text = self.limits_text()
        self.presets_after = [
            (str(c), format_cents(balance_cents + c, currency)) for c in PRESET_AMOUNTS_CENTS
        ]

    def limits_text(self) -> str:
        low, high = settings.CREDIT_MIN_AMOUNT_CENTS, settings.CREDIT_MAX_AMOUNT_CENTS
        return (
            f"Enter an amount between {format_cents(low, self.currency)} and "
            f"{format_cents(high, self.currency)}."
        )

    def clean(self):
        data = super().clean()
        choice = data.get("amount")
        typed = self.data.get("custom_amount", "").strip() if self.is_bound else ""
        if typed:
            choice = data["amount"] = CUSTOM
        if not choice:
            if "amount" not in self.errors:
                self.add_error("amount", "Choose an amount.")
            return data
        if choice == CUSTOM:
            dollars = data.get("custom_amount")
            if dollars is None:
                if "custom_amount" not in self.errors:
                    self.add_error("custom_amount", self.limits_text())
                return data
            cents, field = to_cents(dollars), "custom_amount"
        else:
            cents, field = int(choice), "amount"
        if not settings.CREDIT_MIN_AMOUNT_CENTS <= cents <= settings.CREDIT_MAX_AMOUNT_CENTS:
            self.add_error(field, self.limits_text())
            return data
        try:
            data["amount_cents"] = validate_purchase_amount(cents)
        except InvalidAmount as exc:
            self.add_error(field, str(exc))
        return data


class MonthField(forms.CharField):
    """YYYY-MM, as the <input type="month"> sends it."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        match = MONTH_RE.match(value)
        if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
            raise forms.ValidationError("Enter a month as YYYY-MM.")
        return date(int(match[1]), int(match[2]), 1)


class MonthForm(forms.Form):
    month = MonthField(
        label="Month", required=False, widget=forms.TextInput(attrs={"type": "month"})
    )


class DaysForm(forms.Form):
    days = forms.TypedChoiceField(
        choices=[("30", "30 days"), ("90", "90 days")], coerce=int, required=False
    )


class GrantCreditsForm(forms.Form):
    """Staff panel: grant promotional credits to the selected accounts."""

    amount = _dollars_field(label="Amount (USD) per account")
    reason = forms.CharField(label="Reason", widget=forms.Textarea(attrs={"rows": 3}))
    expires_at = forms.DateTimeField(label="Expires at (optional)", required=False)
    # Rendered once with the form; a double submit reuses it, so the grant cannot double.
    request_key = forms.CharField(widget=forms.HiddenInput, initial=lambda: uuid.uuid4().hex)

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason

    def clean(self):
        data = super().clean()
        if data.get("amount") is not None:
            data["amount_cents"] = to_cents(data["amount"])
        return data


class AlertsForm(forms.Form):
    """The billing page's budget and alerts form; the service checks the same limits again."""

    monthly_budget = forms.DecimalField(
        label="Monthly budget (USD)",
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal(1_000_000),
        help_text="Leave empty for no budget.",
    )
    alert_percents = forms.CharField(
        label="Alert at (% of budget)", initial="50, 80, 100", max_length=100
    )
    low_balance_thresholds = forms.CharField(
        label="Low-balance alerts (USD, prepaid)", required=False, max_length=200
    )
    hard_cap = forms.BooleanField(
        label="Hard cap: pause my running deployments and jobs when the budget is reached",
        required=False,
    )

    def clean(self):
        data = super().clean()
        if data.get("hard_cap") and data.get("monthly_budget") is None:
            self.add_error("hard_cap", "A hard cap needs a monthly budget.")
        return data

    def clean_alert_percents(self) -> list[int]:
        parts = [p.strip() for p in self.cleaned_data["alert_percents"].split(",") if p.strip()]
        if len(parts) > 10 or not all(p.isdigit() and 1 <= int(p) <= 1000 for p in parts):
            raise forms.ValidationError("Whole percentages from 1 to 1000, comma-separated.")
        return [int(p) for p in parts]

    def clean_low_balance_thresholds(self) -> list[int] | None:
        raw = self.cleaned_data["low_balance_thresholds"].strip()
        if not raw:
            return None
        amounts = []
        for part in [p.strip() for p in raw.split(",")][:11]:
            try:
                value = Decimal(part)
            except ArithmeticError:
                value = Decimal(-1)
            if not value.is_finite() or not Decimal("0.01") <= value <= Decimal(1_000_000):
                raise forms.ValidationError("Dollar amounts above zero, comma-separated.")
            amounts.append(to_cents(value))
        if len(amounts) > 10:
            raise forms.ValidationError("At most 10 thresholds.")
        return amounts


class AutoTopUpForm(forms.Form):
    """The billing page's auto top-up form (prepaid); the service checks the amount against the
    credit purchase limits."""

    enabled = forms.BooleanField(label="Top up automatically", required=False)
    threshold = _dollars_field(
        label="When the balance falls below (USD)", max_value=Decimal(1_000_000)
    )
    amount = _dollars_field(label="Add (USD)", max_value=Decimal(1_000_000))
