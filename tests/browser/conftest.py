"""Browser tests: Debian's Chromium at /usr/bin/chromium driven by Playwright (never a browser
download), against pytest-django's live server with a transactional database (the server
thread cannot see data inside a test transaction)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the test
# itself (fixtures, assertions) would otherwise be refused as "async unsafe".
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


MISSING = "/usr/bin/chromium is missing: `make test` installs it (apt-get install chromium)"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(config, items):
    """Without Chromium the browser tests skip on a workstation but fail under CI=true (see
    `_chromium_in_ci`): a CI that skipped them would be green while testing no browser."""
    if CHROMIUM.exists() or _in_ci():
        return
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=MISSING))


@pytest.fixture(autouse=True)
def _chromium_in_ci():
    if not CHROMIUM.exists():
        pytest.fail(f"{MISSING} (CI=true: the browser tests must run)", pytrace=False)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def screenshot(page):
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def fake_stripe(settings, live_server):
    """Stripe's API (Checkout, the customer portal) on loopback, for the browser to visit."""
    from tests.browser.fake_stripe import FakeStripe
    from tests.stripe_fakes import WEBHOOK_SECRET

    with FakeStripe() as fake:
        settings.STRIPE_SECRET_KEY = "sk_test_fake"
        settings.STRIPE_API_BASE = fake.url
        settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
        settings.STRIPE_MIRROR_ENABLED = False
        settings.SITE_URL = live_server.url
        yield fake


@pytest.fixture
def demo(transactional_db):
    from billing.dev.demo import demo_load
    from billing.ledger.calendar import billing_today

    return demo_load(today=billing_today())


@pytest.fixture
def login(page, live_server):
    def as_user(email: str, password: str = "demo-password-1") -> None:
        page.goto(f"{live_server.url}/billing/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/billing/")

    return as_user
