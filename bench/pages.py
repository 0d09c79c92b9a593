"""Latency of the billing page and GET /api/billing for a heavy user, served by gunicorn on
loopback, beside trivial views in the same run.

The user has a year of usage on 3 clusters (6 line items per cluster-day) and 5,000 ledger
rows. Requests are sequential (one client), after a warm-up; median and p95 are printed and
written to bench/out/pages.json, with each path's ratio to the trivial view. Two paths time the
first view after a change, made (untimed) just before each request: a ledger posting (what
a purchase, a grant or a night's deduction does) and a rewritten usage day (a recollection).
The cache is Redis, as in production (BENCH_REDIS_URL, default REDIS_URL).

    APP_ENV=test .venv/bin/python bench/pages.py [--requests 200]

Uses its own PostgreSQL database (BENCH_DATABASE_URL, default hopsbill_bench_d), created and
migrated when missing; the data is loaded once and reused."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support import database_migrate, free_port, gunicorn_start, served_env

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hopsbill_bench_d")
EMAIL = "bench-pages@example.com"
ENV = served_env(
    DB_URL,
    **{
        "CACHE_BACKEND": "django_redis.cache.RedisCache",
        "CACHE_LOCATION": os.environ.get(
            "BENCH_REDIS_URL", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        ),
    },
)
PATHS = {
    "trivial (no database)": "/healthz",
    "home page (session + user)": "/",
    "billing page": "/billing/",
    "billing page, 90 days": "/billing/?days=90",
    "GET /api/billing": "/api/billing",
    "billing page, first view after a posting": "/billing/",
    "billing page, first view after a recollection": "/billing/",
}
TRIVIAL = "trivial (no database)"


def data_ensure() -> dict:
    os.environ.update(ENV)
    import django

    django.setup()
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.models import User
    from billing.ledger import billing_account_ensure, prepaid_enable
    from billing.ledger.calendar import billing_today
    from billing.models import CreditTransaction
    from tests.billing.page_data import clusters_make, ledger_make, usage_make
    from usage.models import UsageDay

    user = User.objects.filter(email=EMAIL).first() or User.objects.create_user(EMAIL, None)
    account = billing_account_ensure(user=user)
    if not account.is_prepaid:
        account = prepaid_enable(account=account, reason="bench")
    today = billing_today()
    if not UsageDay.objects.filter(user=user).exists():
        usage_make(
            user=user,
            clusters=clusters_make(3, prefix="bench"),
            first=today - timedelta(days=365),
            last=today,
        )
    if not CreditTransaction.objects.filter(account=account).exists():
        ledger_make(account=account, rows=5000)
    from django.db import connection

    with connection.cursor() as cursor:  # fresh bulk data: give the planner statistics
        cursor.execute("ANALYZE")
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return {
        "session": session.session_key,
        "usage_days": UsageDay.objects.filter(user=user).count(),
        "ledger_rows": CreditTransaction.objects.filter(account=account).count(),
    }


def changes() -> dict:
    """What each 'first view after a change' path changes before its request (untimed)."""
    import uuid

    from django.utils import timezone

    from billing.ledger import credits_grant
    from billing.models import BillingAccount
    from usage.models import UsageDay

    account = BillingAccount.objects.get(user__email=EMAIL)

    def posting() -> None:
        key = f"bench-change:{uuid.uuid4().hex}"
        credits_grant(account=account, amount_cents=1, idempotency_key=key, reason="bench")

    def recollection() -> None:
        day = UsageDay.objects.filter(user_id=account.user_id).order_by("-date").first()
        UsageDay.objects.filter(pk=day.pk).update(updated_at=timezone.now())

    return {
        "billing page, first view after a posting": posting,
        "billing page, first view after a recollection": recollection,
    }


def measure(base: str, session_key: str, requests_per_path: int) -> dict:
    import requests

    http = requests.Session()
    http.cookies.set("sessionid", session_key, domain="127.0.0.1")
    before = changes()
    for path in PATHS.values():  # warm-up: imports, template loading, connections
        for _ in range(10):
            assert http.get(base + path, timeout=30).status_code == 200, path
    timings = {name: [] for name in PATHS}
    for _ in range(requests_per_path):  # interleaved, so drift hits every path alike
        for name, path in PATHS.items():
            if name in before:
                before[name]()
            start = time.perf_counter()
            response = http.get(base + path, timeout=30)
            timings[name].append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (path, response.status_code)
            if name in before:  # the cached paths see the change now, untimed
                for cached in ("/billing/", "/billing/?days=90"):
                    http.get(base + cached, timeout=30)
    return {
        name: {
            "median_ms": round(statistics.median(ms), 2),
            "p95_ms": round(statistics.quantiles(ms, n=20)[18], 2),
            "n": len(ms),
        }
        for name, ms in timings.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    database_migrate(DB_URL, ENV)
    data = data_ensure()
    port = free_port()
    proc = gunicorn_start(port=port, env=ENV, workers=2)
    try:
        results = measure(f"http://127.0.0.1:{port}", data["session"], args.requests)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    trivial = results[TRIVIAL]["median_ms"]
    home = results["home page (session + user)"]["median_ms"]
    for r in results.values():
        r["x_trivial"] = round(r["median_ms"] / trivial, 2)
    print(f"{'path':46} {'median ms':>10} {'p95 ms':>8} {'x trivial':>10} {'x home':>8}")
    for name, r in results.items():
        print(
            f"{name:46} {r['median_ms']:>10} {r['p95_ms']:>8} "
            f"{r['median_ms'] / trivial:>10.2f} {r['median_ms'] / home:>8.2f}"
        )
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "data": data | {"session": "..."},
        "cache": ENV["CACHE_BACKEND"],
        "results": results,
    }
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "pages.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
