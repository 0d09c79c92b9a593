"""Stripe webhook throughput: signed checkout events posted to the app (gunicorn on loopback)
with 10% duplicate deliveries; every event's fulfilment retrieves its Checkout Session from a
small fake Stripe on loopback (STRIPE_API_BASE). Prints events/s accepted and processed, then
checks every credit was granted exactly once.

    APP_ENV=test .venv/bin/python bench/webhooks.py [--events 2000] [--clients 16] [--workers 4]

Uses its own PostgreSQL database (BENCH_DATABASE_URL, default hopsbill_bench_c), created and
migrated when missing; each run makes its own accounts and event ids, and checks only those."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import multiprocessing
import os
import platform
import random
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from support import database_migrate, free_port, gunicorn_start

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hopsbill_bench_c")
SECRET = "whsec_bench_secret"
ACCOUNTS = 50
ENV = {
    **os.environ,
    "APP_ENV": "test",
    "DATABASE_URL": DB_URL,
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DB_CONN_MAX_AGE": "60",
    "LOG_LEVEL": "WARNING",
    "STRIPE_SECRET_KEY": "sk_test_bench",
    "STRIPE_WEBHOOK_SECRET": SECRET,
    "STRIPE_MIRROR_ENABLED": "false",
}


# --- fake Stripe ------------------------------------------------------------------------------


def session_for(session_id: str) -> dict:
    """cs_bench_<account>_<n>_<amount>: the session carries what its id says."""
    _, _, account, _, amount = session_id.split("_")
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "client_reference_id": account,
        "metadata": {"hopsbill_account_id": account},
        "currency": "usd",
        "amount_total": int(amount),
        "payment_status": "paid",
        "status": "complete",
    }


class FakeStripe(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the second waits for the client's
    # delayed ACK (~40 ms on Linux), a latency of the fake, not of the app or of Stripe.
    disable_nagle_algorithm = True

    def do_GET(self):  # noqa: N802 - http.server's name
        prefix = "/v1/checkout/sessions/"
        if not self.path.startswith(prefix):
            self.send_error(404)
            return
        body = json.dumps(session_for(self.path[len(prefix) :].split("?")[0])).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _serve(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), FakeStripe)
    server.daemon_threads = True
    server.serve_forever()


def fake_stripe_start() -> tuple[multiprocessing.Process, int]:
    """In its own process, so it does not share a GIL with the posting clients."""
    port = free_port()
    proc = multiprocessing.Process(target=_serve, args=(port,), daemon=True)
    proc.start()
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the fake Stripe did not start")


# --- database -------------------------------------------------------------------------------


RUN = f"{int(time.time())}"


def accounts_create() -> list[int]:
    os.environ.update(ENV)
    import django

    django.setup()
    from accounts.models import User
    from billing.ledger import billing_account_ensure, prepaid_enable

    ids = []
    for i in range(ACCOUNTS):
        user = User.objects.create_user(f"bench-{RUN}-{i}@example.com", None)
        account = prepaid_enable(account=billing_account_ensure(user=user), reason="bench")
        ids.append(account.pk)
    return ids


# --- load -----------------------------------------------------------------------------------


def signed(event: dict) -> tuple[bytes, str]:
    body = json.dumps(event).encode()
    ts = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={ts},v1={mac}"


def events_make(account_ids: list[int], count: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(42)
    unique = []
    for n in range(count):
        account = rng.choice(account_ids)
        amount = rng.randrange(500, 50_000)
        session = session_for(f"cs_bench_{account}_{RUN}x{n}_{amount}")
        unique.append(
            {
                "id": f"evt_{RUN}_{n}",
                "object": "event",
                "type": "checkout.session.completed",
                "created": int(time.time()),
                "data": {"object": session},
            }
        )
    from billing.models import CreditPurchase

    # The purchases the API opened before the customers paid (credits_purchase_start).
    CreditPurchase.objects.bulk_create(
        CreditPurchase(
            account_id=int(e["data"]["object"]["client_reference_id"]),
            amount_cents=e["data"]["object"]["amount_total"],
            stripe_session_id=e["data"]["object"]["id"],
            status=CreditPurchase.Status.OPEN,
        )
        for e in unique
    )
    deliveries = unique + rng.sample(unique, count // 10)  # 10% delivered twice
    rng.shuffle(deliveries)
    return unique, deliveries


def post_all(url: str, deliveries: list[dict], clients: int) -> tuple[float, dict[int, int]]:
    local = threading.local()
    codes: dict[int, int] = {}
    lock = threading.Lock()

    # Signed before the clock starts (well inside the 300 s tolerance): the clients share the
    # app's two cores, and their own CPU is not the app's throughput.
    signed_deliveries = [signed(event) for event in deliveries]

    def post(delivery: tuple[bytes, str]) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        body, signature = delivery
        response = session.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "Stripe-Signature": signature},
            timeout=30,
        )
        with lock:
            codes[response.status_code] = codes.get(response.status_code, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(post, signed_deliveries))
    return time.perf_counter() - started, codes


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process and its live children (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (OSError, IndexError, ValueError):
        return 0.0
    return own + sum(cpu_seconds(int(child)) for child in children)


def verify(unique: list[dict]) -> list[str]:
    from django.db.models import Count, Sum

    from billing.models import BillingAccount, CreditPurchase, CreditTransaction
    from webhooks.models import WebhookEvent

    problems = []
    expected: dict[int, int] = {}
    for event in unique:
        session = event["data"]["object"]
        account = int(session["client_reference_id"])
        expected[account] = expected.get(account, 0) + session["amount_total"]
    grants = CreditTransaction.objects.filter(kind="purchase", account_id__in=list(expected))
    if grants.count() != len(unique):
        problems.append(f"{grants.count()} grants for {len(unique)} sessions")
    dupes = grants.values("source_ref").annotate(n=Count("id")).filter(n__gt=1)
    if dupes.exists():
        problems.append(f"{dupes.count()} sessions granted more than once")
    per_account = dict(grants.values_list("account_id").annotate(s=Sum("amount_cents")))
    if per_account != expected:
        problems.append("granted amounts per account differ from the sessions paid")
    for account in BillingAccount.objects.filter(pk__in=expected):
        if account.balance_cents != expected[account.pk]:
            problems.append(f"account {account.pk} balance {account.balance_cents}")
    stored = WebhookEvent.objects.filter(source="stripe", external_id__startswith=f"evt_{RUN}_")
    if stored.count() != len(unique) or stored.exclude(status="processed").exists():
        problems.append("stored events are not each processed once")
    if CreditPurchase.objects.filter(account_id__in=list(expected)).exclude(status="paid").exists():
        problems.append("a purchase is not marked paid")
    return problems


def step(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def main() -> None:
    # `timeout` and Ctrl-C: unwind through the finally below so gunicorn is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="distinct events")
    parser.add_argument("--clients", type=int, default=16, help="concurrent posting clients")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument(
        "--ignored",
        action="store_true",
        help="post an unhandled event type instead: the verify-and-store path alone",
    )
    args = parser.parse_args()

    step("database")
    database_migrate(DB_URL, ENV)
    step("accounts")
    account_ids = accounts_create()
    server, stripe_port = fake_stripe_start()
    port = free_port()
    step("gunicorn")
    app = gunicorn_start(
        port=port,
        env={**ENV, "STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port}"},
        workers=args.workers,
    )
    try:
        unique, deliveries = events_make(account_ids, args.events)
        if args.ignored:
            for event in unique:
                event["type"] = "payment_intent.created"  # stored and acknowledged only
        # Warm-up outside the timed run: a few unrelated events of an ignored type.
        for i in range(20):
            body, signature = signed(
                {
                    "id": f"evt_warm_{i}",
                    "type": "plan.created",
                    "data": {"object": {"object": "plan"}},
                }
            )
            requests.post(
                f"http://127.0.0.1:{port}/api/webhooks/stripe",
                data=body,
                headers={"Stripe-Signature": signature},
                timeout=10,
            )
        step(f"posting {len(deliveries)} deliveries")
        before = (time.process_time(), cpu_seconds(app.pid), cpu_seconds(server.pid))
        elapsed, codes = post_all(
            f"http://127.0.0.1:{port}/api/webhooks/stripe", deliveries, args.clients
        )
        cpu = {
            "clients": time.process_time() - before[0],
            "gunicorn": cpu_seconds(app.pid) - before[1],
            "fake Stripe": cpu_seconds(server.pid) - before[2],
        }
    finally:
        app.terminate()
        app.wait(timeout=30)
        server.terminate()
    step("verifying")
    accepted = codes.get(200, 0)
    problems = [] if args.ignored else verify(unique)
    print(f"date            {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine         {os.cpu_count()} cores, {platform.platform()}")
    print(
        f"deliveries      {len(deliveries)} ({len(unique)} distinct, "
        f"{len(deliveries) - len(unique)} duplicates), {args.clients} clients, "
        f"{args.workers} gunicorn workers"
    )
    print(f"answers         {dict(sorted(codes.items()))}")
    print(f"elapsed         {elapsed:.2f} s")
    print(
        "cpu (s)         "
        + ", ".join(f"{name} {seconds:.1f}" for name, seconds in cpu.items())
        + f" (of {elapsed * (os.cpu_count() or 1):.1f} core-seconds; PostgreSQL not counted)"
    )
    print(f"accepted        {accepted / elapsed:.0f} deliveries/s (2xx)")
    print(f"processed       {len(unique) / elapsed:.0f} distinct events/s (granted, stored)")
    print("exactly once    " + ("yes" if not problems else "NO: " + "; ".join(problems)))
    if problems or accepted != len(deliveries):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
