"""Demo data for `make run`: a cluster, prices, a postpaid user, a prepaid user with credits and
a month of priced usage, and a staff user. Safe to run again: nothing is duplicated."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from accounts.models import User
from billing.ledger import (
    billing_account_ensure,
    cost_of,
    credits_deduct_usage,
    credits_grant,
    credits_record_purchase,
    prepaid_enable,
    price_lookup,
)
from billing.ledger.catalogue import EXAMPLE_CATALOGUE, price_catalogue_import
from billing.ledger.money import round_cost, to_cents
from billing.models import BillingModeChange, Price, Resource
from clusters.models import Cluster
from usage.models import CollectionStatus, UsageDay, UsageLineItem
from usage.services import usage_billed_days

DEMO_PASSWORD = "demo-password-1"
DEMO_USERS = {
    "staff": "admin@example.com",
    "postpaid": "postpaid@example.com",
    "prepaid": "prepaid@example.com",
}
PREPAID_SINCE = datetime(2024, 1, 1, tzinfo=UTC)


def demo_load(*, today: date) -> dict[str, str]:
    with transaction.atomic():
        _prices()
        cluster, _ = Cluster.objects.get_or_create(
            name="demo-eu-1",
            defaults={
                "region": "eu-north-1",
                "hopsworks_url": "https://demo.invalid/hopsworks-api/api",
            },
        )
        staff = _user(DEMO_USERS["staff"], staff=True)
        postpaid = _user(DEMO_USERS["postpaid"], cluster=cluster)
        prepaid = _user(DEMO_USERS["prepaid"], cluster=cluster)
        account = billing_account_ensure(user=prepaid)
        if not account.is_prepaid:
            prepaid_enable(account=account, changed_by=staff, reason="Demo prepaid user")
            # The demo user has been prepaid since before its month of usage.
            BillingModeChange.objects.filter(account=account).update(created_at=PREPAID_SINCE)
        account.refresh_from_db()
        credits_record_purchase(account=account, amount_cents=50_00, stripe_session_id="cs_demo_1")
        credits_record_purchase(account=account, amount_cents=100_00, stripe_session_id="cs_demo_2")
        credits_grant(
            account=account,
            amount_cents=10_00,
            idempotency_key="demo-welcome-grant",
            reason="Welcome credits",
            created_by=staff,
        )
        for offset in range(30, 0, -1):
            day = today - timedelta(days=offset)
            _usage_day(postpaid, cluster, day, scale=Decimal("1.5"))
            usage_day = _usage_day(prepaid, cluster, day, scale=Decimal("0.2"))
            credits_deduct_usage(
                account=account,
                usage_ref=f"usage_day:{usage_day.pk}",
                cost_cents=usage_day.cost_cents,
            )
    return DEMO_USERS


def _prices() -> None:
    """The example catalogue (catalogue/prices.example.yaml), the file the README's quick start
    imports; a catalogue already there (imported or edited since) is left alone."""
    if Price.objects.exists():
        return
    price_catalogue_import(
        text=(settings.BASE_DIR / EXAMPLE_CATALOGUE).read_text(),
        billed_days=usage_billed_days,
        performed_by="demo",
        source=EXAMPLE_CATALOGUE,
    )


def _user(email: str, *, staff: bool = False, cluster: Cluster | None = None) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        create = User.objects.create_superuser if staff else User.objects.create_user
        user = create(email, DEMO_PASSWORD)
    if cluster and user.cluster_id is None:
        user.cluster = cluster
        user.save(update_fields=["cluster"])
    return user


def _usage_day(user: User, cluster: Cluster, day: date, *, scale: Decimal) -> UsageDay:
    existing = UsageDay.objects.filter(user=user, cluster=cluster, date=day).first()
    if existing:
        return existing
    account = user.billing_account
    usage_day = UsageDay.objects.create(
        user=user, cluster=cluster, date=day, status=CollectionStatus.COMPLETE
    )
    wobble = Decimal(day.toordinal() % 7) / 10
    quantities = [
        ("demo_project", Resource.INSTANCE_HOURS, "m5.xlarge", Decimal(24) * scale),
        ("demo_project", Resource.CPU_HOURS, "m5.xlarge", Decimal(96) * scale * (1 + wobble)),
        ("demo_project", Resource.MEMORY_GB_HOURS, "m5.xlarge", Decimal(384) * scale),
        ("demo_project", Resource.STORAGE_FEATURE_STORE, "", Decimal(50)),
        ("demo_project", Resource.STORAGE_MODELS, "", Decimal(20)),
        ("demo_project", Resource.STORAGE_DATASETS, "", Decimal(30)),
        ("demo_project", Resource.API_CALLS_FEATURE_STORE, "", Decimal(5000) * scale),
        ("demo_project", Resource.API_CALLS_MODEL_SERVING, "", None),
        ("demo_project", Resource.API_CALLS_JOBS, "", Decimal(200)),
    ]
    total = Decimal(0)
    for project, resource, instance_type, quantity in quantities:
        unit_price = price_lookup(
            account=account, resource=resource, day=day, instance_type=instance_type
        )
        cost = None
        if quantity is not None:
            quantity = round_cost(quantity)
            cost = cost_of(resource=resource, quantity=quantity, unit_price=unit_price, day=day)
            total += cost
        UsageLineItem.objects.create(
            usage_day=usage_day,
            project=project,
            resource=resource,
            instance_type=instance_type,
            quantity=quantity,
            unit_price=unit_price,
            cost=cost,
        )
    usage_day.cost = total
    usage_day.cost_cents = to_cents(total)
    usage_day.save(update_fields=["cost", "cost_cents"])
    return usage_day
