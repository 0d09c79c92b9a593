"""A loopback fake of the part of Stripe the credit purchase touches: creating a Checkout
Session (POST /v1/checkout/sessions) and the hosted payment page it redirects to."""

from __future__ import annotations

import html
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class FakeStripe:
    def __init__(self) -> None:
        self.sessions: dict[str, dict] = {}
        self.idempotency_keys: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if self.path != "/v1/checkout/sessions":
                    return self._json(404, {"error": {"message": "unknown path"}})
                fake.idempotency_keys.append(self.headers.get("Idempotency-Key", ""))
                params = {k: v[0] for k, v in parse_qs(body).items()}
                session_id = f"cs_test_fake_{len(fake.sessions) + 1}"
                fake.sessions[session_id] = params
                return self._json(
                    200,
                    {
                        "id": session_id,
                        "object": "checkout.session",
                        "mode": "payment",
                        "url": f"{fake.url}/pay/{session_id}",
                        "amount_total": int(params["line_items[0][price_data][unit_amount]"]),
                        "metadata": {},
                    },
                )

            def do_GET(self):
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

    def __enter__(self) -> FakeStripe:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
