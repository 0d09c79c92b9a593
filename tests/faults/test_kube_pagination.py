"""The Kubernetes API failing on the second page of a pod list: the day is not charged until
a later run measures it completely, and then it is charged once."""

from __future__ import annotations

from datetime import date

import pytest

from billing.models import CreditTransaction
from tests.fakes.kube_server import Failure
from tests.usage.conftest import (  # noqa: F401 - the usage tests' fake cluster
    COLLECTED_AT,
    busy_day,
    cluster,
    fake_kube,
    hopsworks,
)
from usage.models import UsageDay
from usage.services import usage_collect_day

pytestmark = pytest.mark.django_db
DAY = date(2024, 1, 15)


@pytest.mark.parametrize(
    ("failure", "first_status"),
    [
        (Failure(status=500, page=2), "partial"),
        (Failure(garbage=True, page=2), "partial"),
        # One read timeout is retried by the client (once), and the run completes.
        (Failure(hang=1.0, page=2), "complete"),
    ],
    ids=["500", "garbage", "timeout"],
)
def test_a_list_failing_mid_pagination_charges_once_and_only_when_complete(
    prepaid_account, owner, catalogue, cluster, busy_day, failure, first_status  # noqa: F811
):
    busy_day.failures["pods"] = failure
    first = usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    assert first.status == first_status
    charged = CreditTransaction.objects.filter(kind="usage").exists()
    assert charged == (first_status == "complete")

    busy_day.failures.clear()
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)
    usage_collect_day(cluster=cluster, day=DAY, now=COLLECTED_AT)

    mine = UsageDay.objects.get(user=owner, date=DAY)
    assert mine.status == "complete"
    postings = CreditTransaction.objects.filter(source_ref=f"usage_day:{mine.pk}")
    assert [t.amount_cents for t in postings] == [-mine.cost_cents]
