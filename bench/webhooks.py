"""Stripe webhook intake and processing: signed checkout events posted to the app (gunicorn on
loopback) with 10% duplicate deliveries; every event's fulfilment retrieves its Checkout
Session from a small fake Stripe on loopback (STRIPE_API_BASE). Three figures:

1. accepted: deliveries/s answered 2xx (verify + store + answer), no worker running;
2. processing: distinct events/s that 2 Celery worker processes (a real `celery worker`
   against Redis, BENCH_REDIS_URL) turn into credits, first credit to last;
3. latency: p95 from a delivery's send to its credit, at --rate deliveries/s offered, with the
   workers running.
Then it checks every credit was granted exactly once.

    APP_ENV=test .venv/bin/python bench/webhooks.py [--events 2000] [--clients 16] [--workers 4]
        [--rate 100] [--latency-seconds 20] [--app-root /path/to/other/checkout]

`--app-root` runs gunicorn (and the workers) from another checkout of the code, for an A/B
with this same script. Code that processes inline (before the intake moved off the request
path) is detected: its events are processed when answered, so figure 2 is the accepted rate
and no worker is started.

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
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import redis
import requests
from support import database_migrate, free_port, gunicorn_start, served_env

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hopsbill_bench_c")
BROKER_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
SECRET = "whsec_bench_secret"
ACCOUNTS = 50
ENV = served_env(
    DB_URL,
    **{
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "STRIPE_MIRROR_ENABLED": "false",
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_RESULT_BACKEND": BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
    },
)


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


def events_make(
    account_ids: list[int], count: int, *, tag: str = "a", duplicates: bool = True
) -> tuple[list[dict], list[dict]]:
    rng = random.Random(42)
    unique = []
    for n in range(count):
        account = rng.choice(account_ids)
        amount = rng.randrange(500, 50_000)
        session = session_for(f"cs_bench_{account}_{RUN}{tag}{n}_{amount}")
        unique.append(
            {
                "id": f"evt_{RUN}_{tag}{n}",
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
    if not duplicates:
        return unique, list(unique)
    deliveries = unique + rng.sample(unique, count // 10)  # 10% delivered twice
    rng.shuffle(deliveries)
    return unique, deliveries


def poster(url: str, codes: dict[int, int]):
    """A post function for a thread pool: one requests session per thread; answers counted."""
    local = threading.local()
    lock = threading.Lock()

    def post(body: bytes, signature: str) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        response = session.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "Stripe-Signature": signature},
            timeout=30,
        )
        with lock:
            codes[response.status_code] = codes.get(response.status_code, 0) + 1

    return post


def post_all(url: str, deliveries: list[dict], clients: int) -> tuple[float, dict[int, int]]:
    # Signed before the clock starts (well inside the 300 s tolerance): the clients share the
    # app's two cores, and their own CPU is not the app's throughput.
    signed_deliveries = [signed(event) for event in deliveries]
    codes: dict[int, int] = {}
    post = poster(url, codes)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(lambda delivery: post(*delivery), signed_deliveries))
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


def post_paced(
    url: str, deliveries: list[dict], rate: float, clients: int
) -> tuple[dict[str, float], dict[int, int]]:
    """Open loop: delivery i is sent at start + i/rate whatever the answers; when each was
    sent (wall clock, comparable with the credit's created_at) and the answers."""
    sent: dict[str, float] = {}
    codes: dict[int, int] = {}
    post = poster(url, codes)

    def send(event_id: str, body: bytes, signature: str) -> None:
        sent[event_id] = time.time()
        post(body, signature)

    signed_deliveries = [(event["id"], *signed(event)) for event in deliveries]
    start = time.monotonic() + 0.2
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for i, delivery in enumerate(signed_deliveries):
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
            pool.submit(send, *delivery)
    return sent, codes


def credited_at(unique: list[dict]) -> dict[str, float]:
    """Each session's credit time (epoch seconds), for the sessions credited so far."""
    from billing.models import CreditTransaction

    refs = {f"checkout_session:{e['data']['object']['id']}": e["id"] for e in unique}
    rows = CreditTransaction.objects.filter(kind="purchase", source_ref__in=list(refs))
    return {refs[ref]: at.timestamp() for ref, at in rows.values_list("source_ref", "created_at")}


def unprocessed(unique: list[dict]) -> int:
    from webhooks.models import WebhookEvent

    stored = WebhookEvent.objects.filter(external_id__in=[e["id"] for e in unique])
    return stored.exclude(status="processed").count()


def wait_credited(unique: list[dict], stall: float = 30) -> dict[str, float]:
    """Until every session is credited, or none more was for `stall` seconds."""
    seen, last_progress = -1, time.monotonic()
    while True:
        done = credited_at(unique)
        if len(done) >= len(unique) or time.monotonic() - last_progress > stall:
            return done
        if len(done) > seen:
            seen, last_progress = len(done), time.monotonic()
        time.sleep(0.5)


def celery_start(root: Path, env: dict[str, str], processes: int) -> subprocess.Popen:
    """A real Celery worker, `processes` prefork children, on the bench's Redis."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("celery")),
            "-A",
            "config",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(processes),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "warning",
        ],
        cwd=root,
        env=env,
    )


def stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=60)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def step(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def warm_up(url: str) -> None:
    """A few unrelated events of an ignored type, outside the timed run."""
    for i in range(20):
        body, signature = signed(
            {"id": f"evt_warm_{RUN}_{i}", "type": "plan.created", "data": {"object": {}}}
        )
        requests.post(url, data=body, headers={"Stripe-Signature": signature}, timeout=10)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="distinct events (1, 2)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent posting clients")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--processes", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--rate", type=float, default=100, help="deliveries/s offered (3)")
    parser.add_argument("--latency-seconds", type=float, default=20, help="how long (3)")
    parser.add_argument(
        "--app-root", type=Path, default=ROOT, help="the checkout whose code serves (A/B)"
    )
    parser.add_argument(
        "--ignored",
        action="store_true",
        help="post an unhandled event type instead: the verify-and-store path alone (1 only)",
    )
    return parser.parse_args()


def main() -> None:
    # `timeout` and Ctrl-C: unwind through the finally below so gunicorn is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = arguments()
    step("database")
    database_migrate(DB_URL, ENV)
    step("accounts")
    account_ids = accounts_create()
    server, stripe_port = fake_stripe_start()
    env = {**ENV, "STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port}"}
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/webhooks/stripe"
    step(f"gunicorn ({args.app_root})")
    app = gunicorn_start(port=port, env=env, workers=args.workers, root=args.app_root)
    worker = None
    report: dict[str, str] = {}
    try:
        unique, deliveries = events_make(account_ids, args.events)
        if args.ignored:
            for event in unique:
                event["type"] = "payment_intent.created"  # stored and acknowledged only
        warm_up(url)
        redis.Redis.from_url(BROKER_URL).delete("celery")  # messages left by an earlier run
        step(f"1. posting {len(deliveries)} deliveries, no worker running")
        before = (time.process_time(), cpu_seconds(app.pid), cpu_seconds(server.pid))
        elapsed, codes = post_all(url, deliveries, args.clients)
        cpu = {
            "clients": time.process_time() - before[0],
            "gunicorn": cpu_seconds(app.pid) - before[1],
            "fake Stripe": cpu_seconds(server.pid) - before[2],
        }
        report["answers"] = str(dict(sorted(codes.items())))
        report["elapsed"] = f"{elapsed:.2f} s"
        report["cpu (s)"] = (
            ", ".join(f"{name} {seconds:.1f}" for name, seconds in cpu.items())
            + f" (of {elapsed * (os.cpu_count() or 1):.1f} core-seconds; PostgreSQL not counted)"
        )
        report["1. accepted"] = f"{codes.get(200, 0) / elapsed:.0f} deliveries/s (2xx)"
        if args.ignored:
            return print_report(args, unique, deliveries, report, problems=[])
        inline = unprocessed(unique) == 0
        if inline:
            report["2. processing"] = (
                f"{len(unique) / elapsed:.0f} distinct events/s (inline: processed when answered)"
            )
        else:
            step(f"2. {args.processes} Celery worker processes until all are credited")
            worker = celery_start(args.app_root, env, args.processes)
            started = time.monotonic()
            done = wait_credited(unique)
            times = sorted(done.values())
            span = times[-1] - times[0] if len(times) > 1 else float("nan")
            report["2. processing"] = (
                f"{(len(times) - 1) / span:.0f} distinct events/s (first credit to last; "
                f"{len(times)} credited, {time.monotonic() - started:.1f} s incl. worker start)"
            )
        step(f"3. {args.rate:.0f} deliveries/s offered for {args.latency_seconds:.0f} s")
        paced, _ = events_make(
            account_ids, int(args.rate * args.latency_seconds), tag="p", duplicates=False
        )
        sent, paced_codes = post_paced(url, paced, args.rate, args.clients)
        done = wait_credited(paced)
        latencies = [done[eid] - sent[eid] for eid in done if eid in sent]
        report["3. latency"] = (
            f"p50 {percentile(latencies, 50):.3f} s, p95 {percentile(latencies, 95):.3f} s, "
            f"max {max(latencies):.3f} s, delivery to credit ({len(latencies)} of "
            f"{len(paced)} credited; answers {dict(sorted(paced_codes.items()))})"
        )
        unique += paced
    finally:
        stop(worker)
        stop(app)
        server.terminate()
    step("verifying")
    print_report(args, unique, deliveries, report, problems=verify(unique))


def print_report(args, unique, deliveries, report: dict[str, str], problems: list[str]) -> None:
    print(f"date            {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine         {os.cpu_count()} cores, {platform.platform()}")
    print(f"code            {args.app_root}")
    print(
        f"deliveries      {len(deliveries)} ({args.events} distinct, "
        f"{len(deliveries) - args.events} duplicates), {args.clients} clients, "
        f"{args.workers} gunicorn workers"
    )
    for name, line in report.items():
        print(f"{name:15s} {line}")
    if not args.ignored:
        print("exactly once    " + ("yes" if not problems else "NO: " + "; ".join(problems)))
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
