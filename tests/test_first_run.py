"""The `make run` path end to end on SQLite, as a new user meets it: a fresh SQLite file,
`migrate`, `demo`, `runserver`, then every page and API endpoint GET as each demo user (staff,
postpaid, prepaid) and anonymously, each answering the expected status, never a 500.

Everything runs in child processes with `make run`'s environment (APP_ENV=local, the
.env.example file): the SQLite path is a different database engine and settings from the rest
of the suite. The slow part (SQLite migrations, a minute or more) starts in the background as
soon as collection finishes (tests/conftest.py), so it overlaps the rest of the suite.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from billing.dev.demo import DEMO_PASSWORD, DEMO_USERS
from tests.first_run import free_port

ROOT = Path(__file__).resolve().parent.parent

THIS_MONTH = datetime.now(UTC).strftime("%Y-%m")
# (path, {user: expected status}); "anonymous" is nobody logged in.
PAGES: list[tuple[str, dict[str, int]]] = [
    ("/", {"anonymous": 200, "staff": 200, "postpaid": 200, "prepaid": 200}),
    ("/healthz", {"anonymous": 200}),
    ("/readyz", {"anonymous": 200}),
    ("/accounts/login/", {"anonymous": 200}),
    ("/billing/", {"anonymous": 302, "staff": 200, "postpaid": 200, "prepaid": 200}),
    ("/billing/?days=90", {"postpaid": 200, "prepaid": 200}),
    ("/billing/?month=2024-01", {"postpaid": 200, "prepaid": 200}),
    ("/billing/?page=2", {"prepaid": 200}),
    ("/billing/export.csv", {"anonymous": 302, "postpaid": 400, "prepaid": 400}),
    (f"/billing/export.csv?month={THIS_MONTH}", {"postpaid": 200, "prepaid": 200}),
    ("/billing/credits/", {"anonymous": 302, "staff": 403, "postpaid": 403, "prepaid": 200}),
    ("/billing/credits/cancel/", {"prepaid": 200}),
    ("/no-such-page/", {"anonymous": 404, "prepaid": 404}),
    ("/api/", {"anonymous": 200}),
    ("/api/billing", {"anonymous": 403, "staff": 200, "postpaid": 200, "prepaid": 200}),
    ("/api/billing?days=90", {"prepaid": 200}),
    ("/api/billing/balance", {"anonymous": 403, "postpaid": 404, "prepaid": 200}),
    ("/api/admin/billing", {"anonymous": 403, "staff": 200, "postpaid": 403, "prepaid": 403}),
    ("/api/no-such-endpoint", {"anonymous": 404, "prepaid": 404}),
    ("/api/schema/", {"anonymous": 200, "staff": 200}),
    ("/api/docs/", {"anonymous": 200, "staff": 200}),
    ("/admin/", {"anonymous": 302, "staff": 200, "postpaid": 302}),
    ("/admin/djstripe/", {"staff": 200}),
]
ADMIN_LINK = re.compile(r'href="(/admin/[a-z_]+/[a-z_]+/)"')
CHANGE_LINK = re.compile(r'href="(/admin/[a-z_]+/[a-z_]+/[^/"]+/change/)')


@pytest.fixture(scope="module")
def server(first_run_prepared):
    base, proc = runserver_start(first_run_prepared)
    yield base, proc
    proc.terminate()
    proc.wait(timeout=30)


def runserver_start(env: dict[str, str]) -> tuple[str, subprocess.Popen]:
    """runserver on the prepared SQLite file, as `make run` starts it."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    _wait_until_up(base, proc)
    return base, proc


def _wait_until_up(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"runserver exited: {proc.stderr.read()}")
        try:
            requests.get(f"{base}/healthz", timeout=30)
            return
        except requests.RequestException:  # not listening yet, or a worker still booting
            time.sleep(0.3)
    pytest.fail("runserver did not answer within 120 s")


def _session(base: str, who: str) -> requests.Session:
    session = requests.Session()
    if who == "anonymous":
        return session
    session.get(f"{base}/accounts/login/", timeout=30)
    response = session.post(
        f"{base}/accounts/login/",
        data={"username": DEMO_USERS[who], "password": DEMO_PASSWORD, "next": "/billing/"},
        headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{base}/"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, f"{who} could not log in: {response.status_code}"
    return session


def _get(session: requests.Session, base: str, path: str) -> int:
    return session.get(f"{base}{path}", allow_redirects=False, timeout=60).status_code


def _admin_pages(session: requests.Session, base: str) -> list[str]:
    """Every model list linked from the staff index and the djstripe section, its add page
    where offered, and the first object's change page."""
    pages: list[str] = []
    for index in ("/admin/", "/admin/djstripe/"):
        body = session.get(f"{base}{index}", timeout=60).text
        pages += [p for p in ADMIN_LINK.findall(body) if p not in pages]
    for changelist in list(pages):
        body = session.get(f"{base}{changelist}", timeout=60).text
        pages += CHANGE_LINK.findall(body)[:1]
    return list(dict.fromkeys(pages))


def test_make_run_serves_every_page_to_every_demo_user(server):
    base, proc = server
    wrong: list[str] = []
    for who in ("anonymous", "staff", "postpaid", "prepaid"):
        session = _session(base, who)
        for path, expected in PAGES:
            if who in expected and (got := _get(session, base, path)) != expected[who]:
                wrong.append(f"{who} GET {path}: {got}, expected {expected[who]}")
    assert not wrong, "\n".join(wrong)


def test_make_run_serves_every_staff_panel_page(server):
    base, proc = server
    session = _session(base, "staff")
    pages = _admin_pages(session, base)
    assert len(pages) > 20, pages  # the crawl found the panel, not a login page
    wrong = [f"GET {p}: {code}" for p in pages if (code := _get(session, base, p)) != 200]
    assert not wrong, "\n".join(wrong)
