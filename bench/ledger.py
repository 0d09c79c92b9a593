"""Ledger benchmark: concurrent usage deductions through the service layer vs the same posting
shape as raw SQL (lock account row, insert transaction, update balance), in one run. Writers
are processes, like the web and Celery workers that post in production.

    APP_ENV=test .venv/bin/python bench/ledger.py [--writers 8] [--postings 300]
        [--server-side-binding]

Uses its own database (hopsbill_bench_ledger on the DATABASE_URL server), created and migrated
on first use. Prints postings/s per scenario, the ratio to raw SQL, and checks the invariants
(balance == sum of transactions, no idempotency key applied twice).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

from support import in_process_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "hopsbill_bench_ledger"
in_process_database(BENCH_DB)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count, Sum  # noqa: E402

from accounts.models import User  # noqa: E402
from billing.ledger import credits_deduct_usage, credits_record_purchase  # noqa: E402
from billing.models import BillingAccount, BillingMode, CreditTransaction  # noqa: E402


def run_writers(writers: int, work) -> float:
    """Run `work(i)` in `writers` processes (as gunicorn and Celery workers would: no shared
    GIL), all released at once; the wall time from release to the last one done."""
    connection.close()  # each child opens its own
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(writers + 1)
    errors = ctx.Queue()

    def runner(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            errors.put(repr(exc))
            raise
        finally:
            connection.close()

    procs = [ctx.Process(target=runner, args=(i,)) for i in range(writers)]
    for proc in procs:
        proc.start()
    barrier.wait()
    start = time.perf_counter()
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - start
    if not errors.empty():
        raise RuntimeError(errors.get())
    return elapsed


def fresh_accounts(count: int, tag: str) -> list[int]:
    ids = []
    for i in range(count):
        user = User.objects.create_user(f"bench-{tag}-{i}-{time.time_ns()}@example.com")
        BillingAccount.objects.filter(user=user).update(mode=BillingMode.PREPAID)
        account = BillingAccount.objects.get(user=user)
        credits_record_purchase(
            account=account, amount_cents=10_000_000, stripe_session_id=f"bench-{account.pk}"
        )
        ids.append(account.pk)
    return ids


def service_scenario(account_ids: list[int], writers: int, postings: int, tag: str) -> float:
    def work(i: int) -> None:
        account = BillingAccount.objects.get(pk=account_ids[i % len(account_ids)])
        for j in range(postings):
            credits_deduct_usage(
                account=account, usage_ref=f"bench:{tag}:{i}:{j}", cost_cents=100 + j % 7
            )

    elapsed = run_writers(writers, work)
    return writers * postings / elapsed


def raw_scenario(account_ids: list[int], writers: int, postings: int, tag: str) -> float:
    import psycopg

    url = os.environ["DATABASE_URL"]

    def work(i: int) -> None:
        account_id = account_ids[i % len(account_ids)]
        with psycopg.connect(url) as conn:
            for j in range(postings):
                amount = -(100 + j % 7)
                with conn.transaction():
                    (balance,) = conn.execute(
                        "SELECT balance_cents FROM billing_billingaccount WHERE id = %s FOR UPDATE",
                        [account_id],
                    ).fetchone()
                    conn.execute(
                        "INSERT INTO billing_credittransaction (account_id, kind, amount_cents,"
                        " balance_after_cents, idempotency_key, funding, source_ref, reason,"
                        " created_at) VALUES (%s, 'usage', %s, %s, %s, '', %s, '', now())",
                        [account_id, amount, balance + amount, f"raw:{tag}:{i}:{j}", f"raw:{tag}"],
                    )
                    conn.execute(
                        "UPDATE billing_billingaccount SET balance_cents = balance_cents + %s"
                        " WHERE id = %s",
                        [amount, account_id],
                    )

    elapsed = run_writers(writers, work)
    return writers * postings / elapsed


def check_invariants(account_ids: list[int]) -> int:
    violations = 0
    for account in BillingAccount.objects.filter(pk__in=account_ids):
        total = CreditTransaction.objects.filter(account=account).aggregate(s=Sum("amount_cents"))
        if (total["s"] or 0) != account.balance_cents:
            violations += 1
    duplicated = (
        CreditTransaction.objects.values("idempotency_key").annotate(n=Count("id")).filter(n__gt=1)
    )
    return violations + duplicated.count()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--postings", type=int, default=300)
    parser.add_argument(
        "--server-side-binding",
        action="store_true",
        help="the service's connections bind parameters on the server (prepared statements)",
    )
    args = parser.parse_args()
    if args.server_side_binding:
        connection.settings_dict.setdefault("OPTIONS", {})["server_side_binding"] = True
    call_command("migrate", verbosity=0)
    tag = str(time.time_ns())
    print(f"writers={args.writers} postings/writer={args.postings}")
    results = {}
    for name, count in [("hot account", 1), ("many accounts", args.writers)]:
        service_ids = fresh_accounts(count, f"svc-{name[:3]}")
        raw_ids = fresh_accounts(count, f"raw-{name[:3]}")
        raw = raw_scenario(raw_ids, args.writers, args.postings, f"{tag}-{name[:3]}")
        service = service_scenario(service_ids, args.writers, args.postings, f"{tag}-{name[:3]}")
        violations = check_invariants(service_ids + raw_ids)
        results[name] = (service, raw, violations)
        print(
            f"{name:14} service {service:8.0f} postings/s   raw SQL {raw:8.0f} postings/s   "
            f"ratio {service / raw:5.0%}   invariant violations {violations}"
        )
    if any(v for _, _, v in results.values()):
        sys.exit("invariant violations found")


if __name__ == "__main__":
    main()
