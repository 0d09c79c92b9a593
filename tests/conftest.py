"""Shared fixtures: the three people of every access test (owner, teammate, outsider) plus staff."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from accounts.models import User
from billing.ledger import billing_account_ensure, credits_grant, prepaid_enable
from billing.ledger.calendar import day_start
from billing.models import BillingModeChange, Price, Resource
from tests.factories import PriceFactory, StaffFactory, UserFactory

# A mid-month billing day: tests that need "today" take the `today` fixture instead of reading
# billing_today(), so the test and the code it calls agree on the day even at midnight.
TODAY = date(2026, 11, 18)


@pytest.fixture
def today() -> date:
    """TODAY, with the clock moved to 10:00 of it in the billing zone (and ticking, so timeouts
    still pass): every service that reads today inside the test reads TODAY."""
    with time_machine.travel(day_start(TODAY) + timedelta(hours=10), tick=True):
        yield TODAY


def _person(name: str, factory=UserFactory) -> User:
    return factory(email=f"{name}@example.com", password=f"pw-{name}-123")


@pytest.fixture
def owner(db) -> User:
    return _person("owner")


@pytest.fixture
def teammate(db) -> User:
    return _person("teammate")


@pytest.fixture
def outsider(db) -> User:
    return _person("outsider")


@pytest.fixture
def staff(db) -> User:
    return _person("staff", StaffFactory)


PREPAID_SINCE = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def prepaid_account(owner, staff):
    """The owner's account, prepaid since 2020: every usage day in the tests is a prepaid day."""
    account = prepaid_enable(
        account=billing_account_ensure(user=owner), changed_by=staff, reason="test"
    )
    BillingModeChange.objects.filter(account=account).update(created_at=PREPAID_SINCE)
    return account


@pytest.fixture
def fund(prepaid_account, staff):
    """Grant credits to the prepaid account, as staff would: `fund(50_00, reason="welcome")`."""

    def grant(amount_cents: int, *, reason: str = "r", key: str = "g", **extra):
        return credits_grant(
            account=prepaid_account,
            amount_cents=amount_cents,
            idempotency_key=key,
            reason=reason,
            created_by=staff,
            **extra,
        )

    return grant


@pytest.fixture
def catalogue(db) -> list[Price]:
    rows = [
        (Resource.INSTANCE_HOURS, "m5.xlarge", "0.192"),
        (Resource.INSTANCE_HOURS, "", "0.2"),
        (Resource.CPU_HOURS, "", "0.04"),
        (Resource.GPU_HOURS, "", "0.9"),
        (Resource.MEMORY_GB_HOURS, "", "0.005"),
        (Resource.STORAGE_FEATURE_STORE, "", "0.1"),
        (Resource.STORAGE_MODELS, "", "0.05"),
        (Resource.STORAGE_DATASETS, "", "0.023"),
        (Resource.API_CALLS_FEATURE_STORE, "", "0.01"),
        (Resource.API_CALLS_MODEL_SERVING, "", "0.02"),
        (Resource.API_CALLS_JOBS, "", "0.05"),
    ]
    return [PriceFactory(resource=r, instance_type=t, unit_price=Decimal(p)) for r, t, p in rows]


# Stripe faked at the HTTP boundary (fixtures stripe_env, stripe_http); the Celery broker, up
# or down (broker_queue, broker_down).
pytest_plugins = ["tests.stripe_fakes", "tests.fakes.broker"]


# The `make run` path on SQLite (tests/test_first_run.py, and the ledger's portable path): start
# its slow preparation as soon as a test that needs it is selected, so it runs while the rest of
# the suite does.
def pytest_collection_finish(session):
    from tests import first_run

    if any("first_run_prepared" in getattr(item, "fixturenames", ()) for item in session.items):
        first_run.preparation_start()


@pytest.fixture(scope="session")
def first_run_prepared() -> dict[str, str]:
    from tests import first_run

    return first_run.preparation_wait()


@pytest.fixture
def eager_tasks():
    """Enqueued Celery tasks run at once, in the test (there is no worker)."""
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False
