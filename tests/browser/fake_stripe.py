"""A loopback fake of the parts of Stripe the browser tests touch: creating a Checkout
Session (POST /v1/checkout/sessions), the hosted payment page it redirects to, and retrieving
the session (GET /v1/checkout/sessions/<id>) when the webhook fulfils it; and a customer
portal session (POST /v1/billing_portal/sessions) with its hosted page (GET /portal/<id>).

A server, not `responses`, because the browser follows its URLs; its JSON answers are built
by the same payload builders as the unit tests' fake (tests/stripe_fakes.py)."""

from __future__ import annotations

import html
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from tests.stripe_fakes import checkout_session, portal_session


class FakeStripe:
    def __init__(self) -> None:
        self.sessions: dict[str, dict] = {}
        self.paid: set[str] = set()
        self.idempotency_keys: list[str] = []
        self.portal_sessions: dict[str, dict] = {}
        # A slow Stripe (tests/faults): each session retrieve says it arrived, then waits.
        self.retrieve_delay_seconds = 0.0
        self.retrieve_arrived = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if self.path == "/v1/billing_portal/sessions":
                    return self._portal_session({k: v[0] for k, v in parse_qs(body).items()})
                if self.path != "/v1/checkout/sessions":
                    return self._json(404, {"error": {"message": "unknown path"}})
                fake.idempotency_keys.append(self.headers.get("Idempotency-Key", ""))
                params = {k: v[0] for k, v in parse_qs(body).items()}
                session_id = f"cs_test_fake_{len(fake.sessions) + 1}"
                fake.sessions[session_id] = params
                return self._json(200, fake.session_object(session_id))

            def do_GET(self):
                if self.path.startswith("/portal/"):
                    return self._portal_page(self.path.removeprefix("/portal/"))
                if self.path.startswith("/v1/checkout/sessions/"):
                    return self._session(self.path.removeprefix("/v1/checkout/sessions/"))
                session_id = self.path.removeprefix("/pay/")
                params = fake.sessions.get(session_id)
                if params is None:
                    return self._json(404, {"error": {"message": "no such session"}})
                amount = int(params["line_items[0][price_data][unit_amount]"])
                page = (
                    "<!doctype html><title>Fake Checkout</title><h1>Pay</h1>"
                    f"<p id=amount>{amount}</p>"
                    f'<a href="{html.escape(params["success_url"])}">Pay now</a> '
                    f'<a href="{html.escape(params["cancel_url"])}">Cancel</a>'
                )
                data = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _portal_session(self, params: dict):
                session_id = f"bps_fake_{len(fake.portal_sessions) + 1}"
                fake.portal_sessions[session_id] = params
                session = portal_session(
                    session_id,
                    customer=params["customer"],
                    return_url=params["return_url"],
                    url=f"{fake.url}/portal/{session_id}",
                )
                return self._json(200, session)

            def _portal_page(self, session_id: str):
                params = fake.portal_sessions.get(session_id)
                if params is None:
                    return self._json(404, {"error": {"message": "no such portal session"}})
                page = (
                    "<!doctype html><title>Fake customer portal</title>"
                    f"<h1>Customer portal</h1><p id=customer>{html.escape(params['customer'])}</p>"
                    f'<a href="{html.escape(params["return_url"])}">Return to Hopsbill</a>'
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def _session(self, session_id: str):
                fake.retrieve_arrived.set()
                time.sleep(fake.retrieve_delay_seconds)
                params = fake.sessions.get(session_id)
                if params is None:
                    return self._json(404, {"error": {"message": "no such session"}})
                return self._json(200, fake.session_object(session_id))

            def _json(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def session_object(self, session_id: str) -> dict:
        """The Checkout Session as Stripe returns it (created: open and unpaid; paid once the
        test pays), built by the unit tests' payload builder from Stripe's own example."""
        params = self.sessions[session_id]
        amount = int(params["line_items[0][price_data][unit_amount]"])
        paid = session_id in self.paid
        return checkout_session(
            session_id,
            int(params["client_reference_id"]),
            amount_total=amount,
            amount_subtotal=amount,
            payment_status="paid" if paid else "unpaid",
            status="complete" if paid else "open",
            metadata={k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")},
            url=f"{self.url}/pay/{session_id}",
        )

    def __enter__(self) -> FakeStripe:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
