"""Staff panel in a real Chromium: grant credits through the reason form, and run "Test
Hopsworks API" on a user against a loopback fake Hopsworks and read the raw response."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from accounts.models import User
from billing.models import CreditTransaction

pytestmark = pytest.mark.browser


@pytest.fixture
def staff_login(page, live_server, demo):
    def go() -> None:
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.get_by_label("Email").fill(demo["staff"])
        page.get_by_label("Password").fill("demo-password-1")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Billing, usage and clusters")).to_be_visible()

    return go


def test_staff_grants_credits_with_a_reason(staff_login, page, live_server, demo, screenshot):
    account = User.objects.get(email=demo["postpaid"]).billing_account
    staff_login()
    page.goto(f"{live_server.url}/admin/billing/billingaccount/?q={demo['postpaid']}")
    page.locator(f"input[name=_selected_action][value='{account.pk}']").check()
    page.locator("select[name=action]").select_option("grant_credits")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_role("heading", name="Grant promotional credits")).to_be_visible()
    page.get_by_label("Amount (USD) per account").fill("20")
    page.get_by_label("Reason").fill("Support ticket 42")
    screenshot("staff-grant-form")
    page.get_by_role("button", name="Grant credits").click()
    expect(page.get_by_text("Granted $20.00 to 1 account(s).")).to_be_visible()
    tx = CreditTransaction.objects.get(account=account)
    assert (tx.amount_cents, tx.reason) == (20_00, "Support ticket 42")


class FakeHopsworks:
    """GET /admin/users and /admin/projects, shaped like the real answers."""

    def __init__(self, email: str) -> None:
        users = {
            "count": 1,
            "items": [{"id": 10001, "email": email, "username": "demo0001", "status": 2}],
        }
        projects = {
            "count": 1,
            "items": [
                {"id": 119, "name": "demo_project", "creator": {"email": email}},
            ],
        }

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                body = users if path.endswith("/admin/users") else projects
                if not path.endswith(("/admin/users", "/admin/projects")):
                    body = {"errorMsg": "not found"}
                data = json.dumps(body).encode()
                self.send_response(200 if "errorMsg" not in body else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hopsworks-api/api"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_staff_runs_test_hopsworks_api_and_sees_the_raw_response(
    staff_login, page, live_server, demo, screenshot
):
    user = User.objects.select_related("cluster").get(email=demo["postpaid"])
    fake = FakeHopsworks(user.email)
    try:
        user.cluster.hopsworks_url = fake.url
        user.cluster.api_key = "browser-test-key"
        user.cluster.save(update_fields=["hopsworks_url", "api_key"])
        staff_login()
        page.goto(f"{live_server.url}/admin/accounts/user/?q={user.email}")
        page.locator(f"input[name=_selected_action][value='{user.pk}']").check()
        page.locator("select[name=action]").select_option("test_hopsworks_api")
        page.get_by_role("button", name="Go").click()
        expect(page.get_by_role("heading", name="Test Hopsworks API: users").first).to_be_visible()
        expect(page.get_by_text("Hopsworks user: demo0001 (id 10001)")).to_be_visible()
        expect(page.locator("pre").first).to_contain_text('"username": "demo0001"')
        screenshot("staff-test-hopsworks")
    finally:
        fake.close()
