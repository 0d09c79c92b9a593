"""Nightly collection of a cluster-day: hours, prices, usage days, ledger deductions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.models import CreditTransaction, Price, Resource, TransactionKind
from tests.fakes.kube_server import Failure, container, pod
from tests.usage.conftest import COLLECTED_AT, at
from usage.models import CollectionRun, CollectionStatus, PodRecord, UsageDay, UsageLineItem
from usage.services import usage_collect_day, usage_sample

DAY = date(2024, 1, 15)
pytestmark = pytest.mark.usefixtures("catalogue", "teammate_on_cluster")


def _items(usage_day: UsageDay) -> dict[tuple[str, str, str], Decimal | None]:
    return {
        (i.project, i.resource, i.instance_type): i.quantity for i in usage_day.line_items.all()
    }


def test_it_writes_hours_and_costs_per_user_for_the_day(owner, teammate, cluster, busy_day):
    run = usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)

    assert (run.status, run.reason) == (CollectionStatus.COMPLETE, "")
    mine = UsageDay.objects.get(user=owner, cluster=cluster, date=DAY)
    items = _items(mine)
    assert items[("alpha", Resource.INSTANCE_HOURS, "m5.xlarge")] == Decimal(2)
    assert items[("alpha", Resource.CPU_HOURS, "m5.xlarge")] == Decimal(8)
    assert items[("alpha", Resource.MEMORY_GB_HOURS, "m5.xlarge")] == Decimal(32)
    assert items[("alpha", Resource.INSTANCE_HOURS, "p3.2xlarge")] == Decimal(12)
    assert items[("alpha", Resource.CPU_HOURS, "p3.2xlarge")] == Decimal(24)
    assert items[("alpha", Resource.GPU_HOURS, "p3.2xlarge")] == Decimal(12)
    assert items[("alpha", Resource.STORAGE_FEATURE_STORE, "")] == Decimal(50)
    assert items[("alpha", Resource.STORAGE_MODELS, "")] == Decimal(20)
    assert items[("alpha", Resource.STORAGE_DATASETS, "")] == Decimal(30)
    assert items[("alpha", Resource.API_CALLS_FEATURE_STORE, "")] == Decimal(5000)
    assert items[("alpha", Resource.API_CALLS_JOBS, "")] == Decimal(0)
    # 0.864 m5 + 14.64 p3 + 0.215806 storage (per GB-month / 31 days) + 0.07 API calls
    assert mine.cost == Decimal("15.789806")
    assert (mine.cost_cents, mine.status) == (1579, CollectionStatus.COMPLETE)

    theirs = UsageDay.objects.get(user=teammate, date=DAY)
    assert _items(theirs)[("Beta_Proj", Resource.INSTANCE_HOURS, "m5.xlarge")] == Decimal(24)


def test_a_job_over_midnight_gives_each_day_its_hours(owner, cluster, busy_day):
    usage_collect_day(cluster=cluster, day=date(2024, 1, 14), now=COLLECTED_AT)
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    key = ("alpha", Resource.INSTANCE_HOURS, "m5.xlarge")
    assert _items(UsageDay.objects.get(user=owner, date=date(2024, 1, 14)))[key] == Decimal(2)
    assert _items(UsageDay.objects.get(user=owner, date=DAY))[key] == Decimal(2)


def test_unknown_owners_are_kept_unattributed_and_system_namespaces_ignored(cluster, busy_day):
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    unattributed = UsageDay.objects.get(user=None, cluster=cluster, date=DAY)
    assert _items(unattributed)[("orphan", Resource.INSTANCE_HOURS, "m5.xlarge")] == Decimal(18)
    assert not UsageLineItem.objects.filter(project="kube-system").exists()


def test_pending_pods_cost_nothing(owner, cluster, fake_kube):
    fake_kube.pods = [pod("wait", "alpha", phase="Pending", node_name=None)]
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    mine = UsageDay.objects.get(user=owner, date=DAY)
    assert not any(i.resource == Resource.INSTANCE_HOURS for i in mine.line_items.all())


def test_a_pod_deleted_between_samples_counts_until_last_seen_running(owner, cluster, fake_kube):
    fake_kube.pods = [pod("short", "alpha", started=at("2024-01-15T09:00:00"))]
    usage_sample(cluster=cluster, now=at("2024-01-15T10:30:00"))
    fake_kube.pods = []
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    key = ("alpha", Resource.INSTANCE_HOURS, "m5.xlarge")
    assert _items(UsageDay.objects.get(user=owner, date=DAY))[key] == Decimal("1.5")


def test_a_complete_day_is_deducted_from_prepaid_credits_once(
    prepaid_account, owner, cluster, busy_day
):
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)  # same data: writes nothing

    mine = UsageDay.objects.get(user=owner, date=DAY)
    postings = CreditTransaction.objects.filter(source_ref=f"usage_day:{mine.pk}")
    assert [(t.kind, t.amount_cents) for t in postings] == [(TransactionKind.USAGE, -1579)]
    assert UsageDay.objects.filter(date=DAY).count() == 3
    assert UsageLineItem.objects.filter(usage_day=mine).count() == len(_items(mine))


def test_postpaid_users_are_not_deducted(teammate, cluster, busy_day):
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    assert not CreditTransaction.objects.exists()


def test_a_rerun_with_changed_data_posts_only_the_difference(
    prepaid_account, owner, cluster, busy_day
):
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    busy_day.pods.append(
        pod(
            "late",
            "alpha",
            phase="Succeeded",
            started=at("2024-01-15T20:00:00"),
            finished=[at("2024-01-15T22:00:00")],
            containers=[container(requests={"cpu": "10", "memory": "1Gi"})],
        )
    )
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)

    mine = UsageDay.objects.get(user=owner, date=DAY)
    postings = CreditTransaction.objects.filter(source_ref=f"usage_day:{mine.pk}").order_by("id")
    # 2 h m5.xlarge: 0.384 instance + 20 CPU-h 0.8 + 2 GB-h 0.01 = 1.194
    assert mine.cost_cents == 1579 + 119
    assert [(t.kind, t.amount_cents) for t in postings] == [
        (TransactionKind.USAGE, -1579),
        (TransactionKind.ADJUSTMENT, -119),
    ]


def test_a_failed_page_makes_the_day_partial_and_a_later_run_completes_it(
    prepaid_account, owner, cluster, busy_day
):
    busy_day.failures["pods"] = Failure(status=500, page=2)
    run = usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    assert run.status == CollectionStatus.PARTIAL
    assert "pod list failed" in run.reason
    assert UsageDay.objects.get(user=owner, date=DAY).status == CollectionStatus.PARTIAL
    assert not CreditTransaction.objects.exists()

    busy_day.failures.clear()
    run = usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    assert run.status == CollectionStatus.COMPLETE
    assert CreditTransaction.objects.get().amount_cents == -1579


def test_an_unreachable_hopsworks_fails_the_run_and_writes_nothing(cluster, busy_day, hopsworks):
    hopsworks["mock"].replace("GET", f"{cluster.hopsworks_url}/admin/projects", status=502)
    run = usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    assert run.status == CollectionStatus.FAILED
    assert "Hopsworks" in run.reason
    assert not UsageDay.objects.exists()


def test_a_broken_kubeconfig_fails_the_run(cluster):
    cluster.kubeconfig = "not: [yaml"
    cluster.save()
    run = usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    assert run.status == CollectionStatus.FAILED and "kubeconfig" in run.reason


def test_unconfigured_sources_are_not_measured_never_zero(owner, cluster, busy_day):
    cluster.storage_source = "none"
    cluster.prometheus_url = ""
    cluster.save()
    run = usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)

    # Not configured is a standing choice: noted on the run, null quantities, the rest billed.
    assert run.status == CollectionStatus.COMPLETE
    assert "no storage source" in run.reason and "no Prometheus" in run.reason
    items = _items(UsageDay.objects.get(user=owner, date=DAY))
    assert items[("alpha", Resource.STORAGE_MODELS, "")] is None
    assert items[("alpha", Resource.API_CALLS_JOBS, "")] is None


def test_a_failing_prometheus_leaves_api_calls_unmeasured(owner, cluster, busy_day, hopsworks):
    hopsworks["prometheus_status"] = 503
    run = usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    assert run.status == CollectionStatus.PARTIAL and "Prometheus answered 503" in run.reason
    items = _items(UsageDay.objects.get(user=owner, date=DAY))
    assert items[("alpha", Resource.API_CALLS_FEATURE_STORE, "")] is None
    assert items[("alpha", Resource.STORAGE_FEATURE_STORE, "")] == Decimal(50)


def test_a_failing_namenode_leaves_storage_unmeasured(owner, cluster, busy_day):
    busy_day.failures["webhdfs"] = Failure(status=503)
    run = usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    assert run.status == CollectionStatus.PARTIAL and "storage not measured" in run.reason
    items = _items(UsageDay.objects.get(user=owner, date=DAY))
    assert items[("alpha", Resource.STORAGE_DATASETS, "")] is None


def test_a_pod_that_finished_before_it_started_makes_the_day_partial(owner, cluster, fake_kube):
    fake_kube.pods = [
        pod(
            "skewed",
            "alpha",
            phase="Succeeded",
            started=at("2024-01-15T10:00:00"),
            finished=[at("2024-01-15T09:00:00")],
        )
    ]
    run = usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    assert run.status == CollectionStatus.PARTIAL
    assert "alpha/skewed: finished" in run.reason


def test_a_missing_price_makes_the_day_partial(owner, cluster, busy_day):
    Price.objects.filter(resource=Resource.GPU_HOURS).delete()
    run = usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    assert run.status == CollectionStatus.PARTIAL and "no price for gpu_hours" in run.reason
    line = UsageLineItem.objects.get(resource=Resource.GPU_HOURS, instance_type="p3.2xlarge")
    assert (line.quantity, line.cost) == (Decimal(12), None)


def test_a_day_not_over_yet_is_partial(owner, cluster, busy_day):
    run = usage_collect_day(cluster=cluster, day=DAY, now=at("2024-01-15T18:00:00"))
    assert run.status == CollectionStatus.PARTIAL and "not over" in run.reason


def test_a_rerun_keeps_the_storage_snapshot_of_the_first_run(owner, cluster, busy_day):
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    busy_day.hdfs["/Projects/alpha/Models"] = 40 * 2**30
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    items = _items(UsageDay.objects.get(user=owner, date=DAY))
    assert items[("alpha", Resource.STORAGE_MODELS, "")] == Decimal(20)
    assert CollectionRun.objects.filter(status=CollectionStatus.COMPLETE).count() == 2


def test_a_day_older_than_the_pod_rows_kept_is_refused_and_left_as_it_was(
    owner, cluster, busy_day, settings
):
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    settings.USAGE_POD_RETENTION_DAYS = 30
    run = usage_collect_day(cluster=cluster, day=DAY, now=at("2024-03-01T00:00:00"))
    assert run.status == CollectionStatus.FAILED and "USAGE_POD_RETENTION_DAYS" in run.reason
    assert UsageDay.objects.get(user=owner, date=DAY).cost_cents == 1579


def test_pod_rows_not_seen_for_the_retention_period_are_pruned(owner, cluster, fake_kube, settings):
    settings.USAGE_POD_RETENTION_DAYS = 30
    fake_kube.pods = [pod("old", "alpha", started=at("2024-01-01T00:00:00"))]
    usage_sample(cluster=cluster, now=at("2024-01-01T01:00:00"))
    fake_kube.pods = []
    usage_collect_day(cluster=cluster, day=date(2024, 2, 10), now=at("2024-02-11T02:00:00"))
    assert not PodRecord.objects.exists()


def test_a_refused_deduction_is_reported_and_the_others_still_post(
    prepaid_account, owner, cluster, busy_day, settings
):
    settings.LEDGER_MAX_AMOUNT_CENTS = 1000  # below the owner's 1,579
    run = usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    assert run.status == CollectionStatus.COMPLETE
    assert "deduction for usage day" in run.reason
    assert not CreditTransaction.objects.exists()


def test_days_follow_the_billing_time_zone(owner, cluster, fake_kube, settings):
    settings.BILLING_TIME_ZONE = "America/New_York"  # UTC-5 in January
    fake_kube.pods = [
        pod(
            "evening",
            "alpha",
            phase="Succeeded",
            started=at("2024-01-15T03:00:00"),  # 22:00 on the 14th in New York
            finished=[at("2024-01-15T06:00:00")],  # 01:00 on the 15th
        )
    ]
    for day in (date(2024, 1, 14), DAY):
        usage_collect_day(cluster=cluster, day=day, now=at("2024-01-16T12:00:00"))
    key = ("alpha", Resource.INSTANCE_HOURS, "m5.xlarge")
    assert _items(UsageDay.objects.get(user=owner, date=date(2024, 1, 14)))[key] == Decimal(2)
    assert _items(UsageDay.objects.get(user=owner, date=DAY))[key] == Decimal(1)


def test_a_partial_rerun_never_replaces_a_complete_day(prepaid_account, owner, cluster, busy_day):
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    busy_day.pods = []
    busy_day.failures["pods"] = Failure(status=500)
    run = usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)

    assert run.status == CollectionStatus.PARTIAL and "earlier run are kept" in run.reason
    mine = UsageDay.objects.get(user=owner, date=DAY)
    assert (mine.status, mine.cost_cents) == (CollectionStatus.COMPLETE, 1579)
    assert CreditTransaction.objects.get().amount_cents == -1579


def test_a_pod_without_requests_counts_its_hours_and_is_flagged(owner, cluster, fake_kube):
    fake_kube.pods = [
        pod("bare", "alpha", started=at("2024-01-15T00:00:00"), containers=[container()])
    ]
    run = usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    assert run.status == CollectionStatus.COMPLETE
    assert run.stats["pods_flagged_without_requests"] == 1
    items = _items(UsageDay.objects.get(user=owner, date=DAY))
    assert items[("alpha", Resource.INSTANCE_HOURS, "m5.xlarge")] == Decimal(24)
    assert items[("alpha", Resource.CPU_HOURS, "m5.xlarge")] == Decimal(0)


def test_a_pod_with_huge_requests_is_not_counted_and_the_day_is_partial(owner, cluster, fake_kube):
    fake_kube.pods = [
        pod(
            "typo",
            "alpha",
            started=at("2024-01-15T00:00:00"),
            containers=[container(requests={"cpu": "4000000", "memory": "1Gi"})],
        )
    ]
    run = usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    assert run.status == CollectionStatus.PARTIAL
    assert "alpha/typo: implausible requests" in run.reason
    assert not UsageLineItem.objects.filter(resource=Resource.CPU_HOURS).exists()


def test_a_rerun_keeps_line_item_ids_and_drops_lines_gone(owner, cluster, busy_day):
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    mine = UsageDay.objects.get(user=owner, date=DAY)
    before = dict(
        UsageLineItem.objects.filter(usage_day=mine)
        .values_list("resource", "pk")
        .filter(instance_type="m5.xlarge")
    )
    busy_day.pods = [p for p in busy_day.pods if p["metadata"]["name"] != "gpu"]
    PodRecord.objects.filter(name="gpu").delete()
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)

    after = dict(
        UsageLineItem.objects.filter(usage_day=mine, instance_type="m5.xlarge").values_list(
            "resource", "pk"
        )
    )
    assert after == before
    assert not UsageLineItem.objects.filter(instance_type="p3.2xlarge").exists()
    assert UsageDay.objects.get(user=owner, date=DAY).pk == mine.pk
