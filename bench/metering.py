"""Metering benchmark: one sampler pass and one day's collection of a large fake cluster.

    APP_ENV=test .venv/bin/python bench/metering.py [--namespaces 1000] [--pods 20000]

The fake Kubernetes API server (tests/fakes/kube_server.py) runs in a child process holding
1,000 project namespaces and 20,000 pods, served in pages of KUBE_PAGE_SIZE (500); WebHDFS
answers through its service proxy. Hopsworks (the project list) and Prometheus are faked with
`responses`. Uses its own database (hopsbill_bench_metering on the DATABASE_URL server),
created, migrated and emptied on every run. Prints wall time per phase and this process's peak
RSS (the fake server's memory is in the child, not counted). The sampler pass includes
today's spend estimate (usage/services/estimate.py), as in production. Target: both phases
together at most 30 s and 300 MB on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from support import in_process_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "hopsbill_bench_metering"
in_process_database(BENCH_DB)

HOPSWORKS = "https://hw.bench/hopsworks-api/api"
PROMETHEUS = "https://prom.bench"
PROXY = "/api/v1/namespaces/hops-system/services/namenode:50070/proxy"
DAY = date(2024, 1, 15)
TYPES = ["m5.xlarge", "m5.4xlarge", "p3.2xlarge"]


def project(i: int) -> str:
    return f"proj_{i:04d}"


def serve_fake_cluster(namespaces: int, pods: int, conn) -> None:
    """Child process: build the cluster's objects and serve them until told to stop."""
    from kubernetes import client

    from tests.fakes.kube_server import FakeKube, container, namespace, node, pod

    started = datetime(2024, 1, 14, 20, 0, tzinfo=UTC)
    fake = FakeKube(
        nodes=[node(f"node-{n}", TYPES[n % len(TYPES)]) for n in range(60)],
        namespaces=[namespace("kube-system")]
        + [
            namespace(f"proj-{i:04d}", {"hopsworks.ai/project": project(i)})
            for i in range(namespaces)
        ],
    )
    template = pod(
        "template",
        "x",
        started=started,
        containers=[container(requests={"cpu": "500m", "memory": "2Gi"})],
        init_containers=[
            client.V1Container(
                name="init",
                image="busybox",
                resources=client.V1ResourceRequirements(requests={"cpu": "1", "memory": "1Gi"}),
            )
        ],
    )
    for p in range(pods):
        item = json.loads(json.dumps(template))
        ns = f"proj-{p % namespaces:04d}"
        item["metadata"].update(name=f"pod-{p}", namespace=ns, uid=f"uid-{p}")
        item["spec"]["nodeName"] = f"node-{p % 60}"
        if p % 4 == 0:  # a quarter finished during the day
            item["status"]["phase"] = "Succeeded"
            finish = (started + timedelta(hours=6 + p % 20)).isoformat()
            item["status"]["containerStatuses"][0]["state"] = {
                "terminated": {"exitCode": 0, "finishedAt": finish, "reason": "Completed"}
            }
        fake.pods.append(item)
    for i in range(namespaces):
        fake.hdfs[f"/Projects/{project(i)}"] = (i + 1) * 3 * 2**30
        fake.hdfs[f"/Projects/{project(i)}/Models"] = (i + 1) * 2**30
        fake.hdfs[f"/apps/hive/warehouse/{project(i)}_featurestore.db"] = (i + 1) * 2**29
    fake.start()
    conn.send(fake.kubeconfig())
    conn.recv()  # until the parent is done
    fake.stop()


QUERIES = [0]


def count_query(execute, sql, params, many, context):
    QUERIES[0] += 1
    return execute(sql, params, many, context)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=20000)
    parser.add_argument("--profile", action="store_true", help="cProfile the collection")
    args = parser.parse_args()

    parent_end, child_end = multiprocessing.Pipe()
    child = multiprocessing.Process(
        target=serve_fake_cluster, args=(args.namespaces, args.pods, child_end), daemon=True
    )
    child.start()  # forked before Django is set up: the child holds only the fake's objects
    kubeconfig = parent_end.recv()

    import django

    django.setup()
    import responses
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    cluster, owners = setup(args.namespaces, kubeconfig)
    from usage.models import PodRecord, SpendEstimate, UsageDay, UsageLineItem
    from usage.services import usage_collect_day, usage_sample

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake_outside(mock, args.namespaces, owners)
        baseline = peak_rss_mb()
        t0 = time.perf_counter()
        sampled_at = datetime(2024, 1, 15, 12, tzinfo=UTC)
        if args.profile:
            import cProfile

            with cProfile.Profile() as profile:
                sampled = usage_sample(cluster=cluster, now=sampled_at)
            profile.print_stats("tottime")
        else:
            sampled = usage_sample(cluster=cluster, now=sampled_at)
        t1 = time.perf_counter()
        collected_at = datetime(2024, 1, 16, 2, tzinfo=UTC)
        if args.profile:
            import cProfile

            with cProfile.Profile() as profile:
                run = usage_collect_day(cluster=cluster, day=DAY, now=collected_at)
            profile.print_stats("cumulative")
        else:
            with connection.execute_wrapper(count_query):
                run = usage_collect_day(cluster=cluster, day=DAY, now=collected_at)
        t2 = time.perf_counter()
        peak_first = peak_rss_mb()
        rerun = usage_collect_day(cluster=cluster, day=DAY, now=collected_at)
        t3 = time.perf_counter()
        estimate_alone = estimate_time(cluster, sampled_at)
    parent_end.send("stop")
    child.join(timeout=10)

    print(f"machine: {os.cpu_count()} cores; page size {settings.KUBE_PAGE_SIZE}")
    print(f"fake cluster: {args.namespaces} project namespaces, {args.pods} pods")
    estimates = SpendEstimate.objects.count()
    print(
        f"sampler pass:      {t1 - t0:6.2f} s  ({sampled.pods_seen} pods, with today's "
        f"spend estimate: {estimates} rows for {len(sampled.estimated_users)} users)"
    )
    note = f": {run.reason}" if run.reason else ""
    print(f"  of which the estimate and its alert check, timed again alone: {estimate_alone:.2f} s")
    print(f"day's collection:  {t2 - t1:6.2f} s  (status {run.status}{note})")
    print(f"together:          {t2 - t0:6.2f} s")
    print(f"SQL statements in the collection: {QUERIES[0]}")
    print(f"peak RSS:          {peak_first:6.1f} MB (after setup {baseline:.1f} MB)")
    print(f"rerun of the day:  {t3 - t2:6.2f} s  (status {rerun.status}; not in the target)")
    print(
        f"rows: {PodRecord.objects.count()} pod rows, {UsageDay.objects.count()} usage days, "
        f"{UsageLineItem.objects.count()} line items; stats {run.stats}"
    )


def estimate_time(cluster, now: datetime) -> float:
    """Today's estimate and the alert check of its users, as the sampler pass runs them."""
    from billing.budgets.alerts import spend_alerts_check_users
    from clusters.kube import KubeClient
    from usage.services.estimate import spend_estimate_refresh

    start = time.perf_counter()
    with KubeClient(cluster) as kube:
        users = spend_estimate_refresh(cluster=cluster, kube=kube, now=now, complete=True)
    spend_alerts_check_users(user_ids=users, now=now)
    return time.perf_counter() - start


def setup(namespaces: int, kubeconfig: str):
    from accounts.models import User
    from billing.models import BillingAccount, BillingMode, Price, Resource
    from clusters.models import Cluster, StorageSource

    cluster = Cluster.objects.create(
        name="bench",
        hopsworks_url=HOPSWORKS,
        api_key="bench-key",
        kubeconfig=kubeconfig,
        storage_source=StorageSource.WEBHDFS,
        webhdfs_proxy_path=PROXY,
        prometheus_url=PROMETHEUS,
        api_call_queries={
            "featureStore": "sum by (namespace) (increase(fs_total[{window}]))",
            "modelServing": "sum by (namespace) (increase(serving_total[{window}]))",
            "jobs": "sum by (namespace) (increase(jobs_total[{window}]))",
        },
    )
    # 200 users, five projects each; every fourth prepaid.
    users = User.objects.bulk_create(
        [User(email=f"user{u}@bench.test", password="!") for u in range(200)]
    )
    BillingAccount.objects.bulk_create(
        [
            BillingAccount(
                user=user,
                mode=BillingMode.PREPAID if n % 4 == 0 else BillingMode.POSTPAID,
                prepaid_enabled=n % 4 == 0,
            )
            for n, user in enumerate(users)
        ]
    )
    for resource_name, price in [
        (Resource.INSTANCE_HOURS, "0.2"),
        (Resource.CPU_HOURS, "0.04"),
        (Resource.GPU_HOURS, "0.9"),
        (Resource.MEMORY_GB_HOURS, "0.005"),
        (Resource.STORAGE_FEATURE_STORE, "0.1"),
        (Resource.STORAGE_MODELS, "0.05"),
        (Resource.STORAGE_DATASETS, "0.023"),
        (Resource.API_CALLS_FEATURE_STORE, "0.01"),
        (Resource.API_CALLS_MODEL_SERVING, "0.02"),
        (Resource.API_CALLS_JOBS, "0.05"),
    ]:
        Price.objects.create(
            resource=resource_name, unit_price=Decimal(price), effective_from=date(2024, 1, 1)
        )
    owners = {project(i): f"user{i % 200}@bench.test" for i in range(namespaces)}
    return cluster, owners


def fake_outside(mock, namespaces: int, owners: dict[str, str]) -> None:
    import responses

    items = [
        {"id": i, "name": project(i), "creator": {"email": owners[project(i)], "username": ""}}
        for i in range(namespaces)
    ]
    mock.add(responses.GET, f"{HOPSWORKS}/admin/projects", json={"items": items})
    series = [
        {"metric": {"namespace": f"proj-{i:04d}"}, "value": [0, str(100 + i)]}
        for i in range(namespaces)
    ]
    mock.add(
        responses.GET,
        f"{PROMETHEUS}/api/v1/query",
        json={"status": "success", "data": {"resultType": "vector", "result": series}},
    )


if __name__ == "__main__":
    main()
