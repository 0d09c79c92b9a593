"""factory_boy factories for the rows tests build. Users come through the service every door
uses (accounts.services.user_create), so each has its billing account."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import factory

from accounts.services import user_create
from billing.ledger.money import to_cents
from billing.models import Price, Resource
from clusters.models import Cluster
from usage.models import CollectionStatus, UsageDay


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "accounts.User"

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return user_create(**kwargs)


class StaffFactory(UserFactory):
    is_staff = True
    is_superuser = True


class ClusterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cluster
        django_get_or_create = ("name",)

    name = "c1"  # one cluster unless a test names another
    hopsworks_url = factory.LazyAttribute(lambda c: f"https://{c.name}.test/api")


class PriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Price

    resource = Resource.CPU_HOURS
    instance_type = ""
    unit_price = Decimal("0.04")
    effective_from = date(2024, 1, 1)


class UsageDayFactory(factory.django.DjangoModelFactory):
    """A complete usage day (its line items are not built)."""

    class Meta:
        model = UsageDay

    user = factory.SubFactory(UserFactory)
    cluster = factory.SubFactory(ClusterFactory)
    date = date(2026, 11, 20)
    status = CollectionStatus.COMPLETE
    cost = Decimal("1.00")
    cost_cents = factory.LazyAttribute(lambda day: to_cents(day.cost))
