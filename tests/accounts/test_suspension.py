"""Suspension: deployments and job executions stopped through Kubernetes, the user blocked in
Hopsworks, everything recorded step by step and resumable; resume unblocks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import (
    SuspensionAction,
    SuspensionCause,
    SuspensionRun,
    SuspensionStatus,
    User,
)
from accounts.suspension import (
    SuspensionInvalid,
    suspension_execute,
    suspension_exempt_set,
    suspension_lift,
    suspension_staff_resume,
    suspension_staff_suspend,
    suspension_stale,
    suspension_start,
    suspension_stopped,
)
from billing.models import AccountStatus, BillingAccount

S = SuspensionStatus


def _status(user: User) -> str:
    return BillingAccount.objects.get(user=user).status


def test_suspension_stops_servings_and_running_jobs_and_blocks_the_user(alice, hopsworks, kube):
    run = suspension_start(user=alice, cause=SuspensionCause.DUNNING)
    assert _status(alice) == AccountStatus.SUSPENDED

    run = suspension_execute(run=run)

    assert run.status == S.DONE
    assert {s.name: s.status for s in run.steps.all()} == {
        "stop_deployments": S.DONE,
        "stop_jobs": S.DONE,
        "block_user": S.DONE,
        "done": S.DONE,
    }
    assert kube.replicas() == {
        "fraud-predictor": 0,
        "fraud-idle": 0,
        "feature-cache": 1,
        "other-predictor": 1,
    }
    assert "alice-proj/etl-1" not in kube.jobs and "alice-proj/etl-0" in kube.jobs
    assert [p["metadata"]["name"] for p in kube.pods] == ["etl-0-zzzzz", "jupyter-alice"]
    assert hopsworks.users[0]["status"] == 4 and hopsworks.users[1]["status"] == 2
    stopped = suspension_stopped(user=alice)
    assert [(d["project"], d["name"], d["replicas"]) for d in stopped["deployments"]] == [
        ("alice_proj", "fraud-predictor", 2)
    ]
    assert [(j["name"], j["execution"]) for j in stopped["jobs"]] == [("etl-1", "7")]
    assert stopped["blocked"] and not stopped["in_progress"]


def test_suspending_twice_makes_one_run_and_stops_nothing_again(alice, hopsworks, kube):
    run = suspension_execute(run=suspension_start(user=alice, cause=SuspensionCause.DUNNING))
    writes = list(kube.writes)

    again = suspension_start(user=alice, cause=SuspensionCause.PREPAID_ARREARS)
    suspension_execute(run=again)

    assert again.pk == run.pk and SuspensionRun.objects.count() == 1
    assert kube.writes == writes
    assert hopsworks.status_changes == [(10001, 4)]


def test_resume_unblocks_the_user_and_leaves_deployments_stopped(alice, hopsworks, kube):
    suspension_execute(run=suspension_start(user=alice, cause=SuspensionCause.DUNNING))

    resume = suspension_lift(user=alice, cause=SuspensionCause.PAYMENT)
    assert _status(alice) == AccountStatus.ACTIVE
    resume = suspension_execute(run=resume)

    assert resume.status == S.DONE
    assert hopsworks.users[0]["status"] == 2
    assert kube.replicas()["fraud-predictor"] == 0  # the user starts it again
    assert suspension_stopped(user=alice) is None
    assert suspension_lift(user=alice, cause=SuspensionCause.PAYMENT) is None


def test_hopsworks_down_leaves_the_run_waiting_with_the_account_suspended(alice, hopsworks, kube):
    hopsworks.down = True
    run = suspension_execute(run=suspension_start(user=alice, cause=SuspensionCause.DUNNING))

    assert run.status == S.WAITING and run.current_step == "stop_deployments"
    assert "unreachable" in run.last_error
    assert run.steps.get(name="stop_deployments").last_error == run.last_error
    assert _status(alice) == AccountStatus.SUSPENDED
    assert kube.replicas()["fraud-predictor"] == 2

    hopsworks.down = False
    run = suspension_execute(run=run)
    assert run.status == S.DONE and hopsworks.users[0]["status"] == 4


def test_a_lost_task_is_picked_up_by_the_sweeper(alice, hopsworks, kube):
    run = suspension_start(user=alice, cause=SuspensionCause.DUNNING)
    later = timezone.now() + timedelta(minutes=6)
    assert suspension_stale(now=later) == [run.pk]
    suspension_execute(run=run)
    assert suspension_stale(now=later) == []


def test_a_crash_between_two_steps_resumes_without_stopping_anything_twice(alice, hopsworks, kube):
    # The worker dies as the second step starts (its first request, the project list).
    hopsworks.crash_at = ("GET /admin/projects", 2)
    run = suspension_start(user=alice, cause=SuspensionCause.DUNNING)
    with pytest.raises(SystemExit):
        suspension_execute(run=run)

    run.refresh_from_db()
    steps = {s.name: s for s in run.steps.all()}
    assert run.status == S.RUNNING
    assert steps["stop_deployments"].status == S.DONE
    assert steps["stop_jobs"].status == S.RUNNING
    assert kube.replicas()["fraud-predictor"] == 0 and "alice-proj/etl-1" in kube.jobs
    assert suspension_stale(now=timezone.now() + timedelta(minutes=6)) == [run.pk]

    hopsworks.crash_at = None
    run = suspension_execute(run=run)

    steps = {s.name: s for s in run.steps.all()}
    assert run.status == S.DONE
    assert steps["stop_deployments"].attempts == 1 and steps["stop_jobs"].attempts == 2
    assert [w for w in kube.writes if w[0] == "PATCH"] == [
        ("PATCH", "/apis/apps/v1/namespaces/alice-proj/deployments/fraud-predictor/scale")
    ]
    assert "alice-proj/etl-1" not in kube.jobs and hopsworks.users[0]["status"] == 4
    assert len(suspension_stopped(user=alice)["deployments"]) == 1


def test_kubernetes_refusing_the_key_needs_staff(alice, hopsworks, kube):
    kube.token = "rotated"
    run = suspension_execute(run=suspension_start(user=alice, cause=SuspensionCause.DUNNING))
    assert run.status == S.FAILED and "401" in run.last_error
    assert _status(alice) == AccountStatus.SUSPENDED


def test_staff_actions_need_a_reason_and_leave_an_audit_row(alice, hopsworks, kube, staff):
    with pytest.raises(SuspensionInvalid):
        suspension_staff_suspend(user=alice, staff=staff, reason="  ")
    assert not SuspensionAction.objects.exists() and not SuspensionRun.objects.exists()

    suspension_staff_suspend(user=alice, staff=staff, reason="Chargeback fraud")
    suspension_staff_resume(user=alice, staff=staff, reason="Paid by wire")
    suspension_exempt_set(user=alice, staff=staff, reason="Strategic customer", exempt=True)

    assert list(
        SuspensionAction.objects.order_by("id").values_list("action", "reason", "staff")
    ) == [
        ("suspend", "Chargeback fraud", staff.pk),
        ("resume", "Paid by wire", staff.pk),
        ("exempt", "Strategic customer", staff.pk),
    ]
    assert [r.kind for r in SuspensionRun.objects.order_by("id")] == ["suspend", "resume"]


def test_an_exempt_user_is_not_suspended_automatically_but_staff_can(alice, kube, staff):
    suspension_exempt_set(user=alice, staff=staff, reason="Strategic customer", exempt=True)

    assert suspension_start(user=alice, cause=SuspensionCause.DUNNING) is None
    assert _status(alice) == AccountStatus.ACTIVE
    assert suspension_staff_suspend(user=alice, staff=staff, reason="Abuse") is not None
    assert _status(alice) == AccountStatus.SUSPENDED


def test_a_resume_cancels_an_unfinished_suspension(alice, hopsworks, kube):
    hopsworks.down = True
    stuck = suspension_execute(run=suspension_start(user=alice, cause=SuspensionCause.DUNNING))
    hopsworks.down = False

    resume = suspension_execute(run=suspension_lift(user=alice, cause=SuspensionCause.PAYMENT))

    stuck.refresh_from_db()
    assert stuck.status == S.CANCELED and resume.status == S.DONE
    assert suspension_execute(run=stuck).status == S.CANCELED
    assert kube.replicas()["fraud-predictor"] == 2 and hopsworks.status_changes == []


USERS = "/admin/accounts/user/"


def test_staff_suspend_from_the_admin_asks_a_reason_then_audits(client, alice, kube, staff):
    client.force_login(staff)
    chosen = {"action": "suspend_now", "_selected_action": [alice.pk]}

    page = client.post(USERS, chosen)
    assert page.status_code == 200 and b"Reason (kept in the audit log)" in page.content
    empty = client.post(USERS, {**chosen, "apply": "1", "reason": " "})
    assert empty.status_code == 200 and b"This field is required" in empty.content
    assert not SuspensionAction.objects.exists() and _status(alice) == AccountStatus.ACTIVE

    done = client.post(USERS, {**chosen, "apply": "1", "reason": "Card fraud"})

    assert done.status_code == 302
    assert SuspensionAction.objects.get().reason == "Card fraud"
    assert _status(alice) == AccountStatus.SUSPENDED
    audit = client.get("/admin/accounts/suspensionaction/")
    assert b"Card fraud" in audit.content


def test_staff_see_the_stuck_step_in_the_admin(client, alice, hopsworks, kube, staff):
    hopsworks.down = True
    run = suspension_execute(run=suspension_start(user=alice, cause=SuspensionCause.DUNNING))
    client.force_login(staff)

    listing = client.get("/admin/accounts/suspensionrun/")
    detail = client.get(f"/admin/accounts/suspensionrun/{run.pk}/change/")

    assert b"stop_deployments" in listing.content and b"unreachable" in listing.content
    assert b"Waiting to retry" in detail.content


def test_outsider_cannot_suspend_from_the_admin(client, alice, kube, outsider):
    client.force_login(outsider)
    response = client.post(
        USERS,
        {"action": "suspend_now", "_selected_action": [alice.pk], "apply": "1", "reason": "x"},
    )
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not SuspensionAction.objects.exists() and _status(alice) == AccountStatus.ACTIVE


def test_a_project_without_a_namespace_has_nothing_to_stop(alice, hopsworks, kube):
    hw_user = hopsworks.users[0]
    hopsworks.add_project(name="gone_proj", creator=hw_user)  # no namespace on the cluster

    run = suspension_execute(run=suspension_start(user=alice, cause=SuspensionCause.DUNNING))

    assert run.status == S.DONE and kube.replicas()["fraud-predictor"] == 0
