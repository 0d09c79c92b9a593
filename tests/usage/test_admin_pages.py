"""Staff see pod rows and usage (including unattributed); others do not."""

from __future__ import annotations

from datetime import date

import pytest

from tests.usage.conftest import COLLECTED_AT
from usage.services import usage_collect_day

pytestmark = pytest.mark.usefixtures("catalogue", "teammate_on_cluster")


def test_staff_see_pod_rows_and_unattributed_usage(client, staff, owner, cluster, busy_day):
    usage_collect_day(cluster=cluster, day=date(2024, 1, 15), now=COLLECTED_AT)
    client.force_login(staff)
    pods = client.get("/admin/usage/podrecord/?q=alpha")
    assert pods.status_code == 200 and b"train" in pods.content
    days = client.get("/admin/usage/usageday/?user__isempty=1")
    assert days.status_code == 200 and b"1 usage day" in days.content
    assert client.get(f"/admin/clusters/cluster/{cluster.pk}/change/").status_code == 200


def test_non_staff_do_not_see_pod_rows(client, outsider, cluster):
    client.force_login(outsider)
    assert client.get("/admin/usage/podrecord/").status_code == 302
