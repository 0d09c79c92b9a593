"""Suspension: stopping a user's work on Hopsworks when they do not pay, and undoing it.

A resumable state machine like provisioning: one SuspensionRun per suspension (or resume) with
one recorded SuspensionStep each.

suspend: stop_deployments -> stop_jobs -> block_user -> done
resume:  unblock_user -> done
pause:   stop_deployments -> stop_jobs -> done   (a spend cap: the user is not blocked)
unpause: done

The user's newest run that was not canceled is their state. A suspension takes precedence
over a pause: suspending a paused user replaces the pause, pausing a suspended user does
nothing, and lifting a pause never unblocks anyone. billing.budgets.caps decides a pause (an
open SpendPause); `suspension_sync` starts the runs that make the work match.

1. `suspension_start` / `suspension_lift` change the billing account's status at once (the
   status is true even while Hopsworks is down), cancel the user's unfinished runs, record the
   new run and queue it after commit.
2. `suspension_execute` claims the run (a lease), runs each unfinished step in order, and
   records what each step stopped BEFORE stopping it, so a crash between (or inside) steps
   resumes without losing the list the user needs to start things again.
3. A failure that may pass (Hopsworks or Kubernetes unreachable) leaves the run WAITING: the
   task retries with backoff and a beat sweeper queues runs whose task was lost. Anything else
   leaves it FAILED for staff, who see the step and its error in the admin.

Deployments and job executions are stopped through Kubernetes, not Hopsworks' REST API: an
admin API key may not act inside a user's project (see clusters/hopsworks.py). Deployments are
not restarted on resume; the page lists what was stopped so the user can start it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import runs
from accounts.models import (
    SuspensionAction,
    SuspensionCause,
    SuspensionKind,
    SuspensionRun,
    SuspensionStatus,
    SuspensionStep,
    User,
)
from accounts.runs import LEASE
from billing.budgets.caps import spend_caps_recheck
from billing.models import (
    AccountStatus,
    BillingAccount,
    BillingMode,
    CreditTransaction,
    DunningCase,
    SpendPause,
)
from billing.payments.dunning import dunning_overdue
from clusters import kube
from clusters.hopsworks import (
    USER_ACTIVATED,
    USER_BLOCKED,
    HopsworksClient,
    HopsworksError,
    namespace_for,
)
from jobs.services import task_enqueue

logger = logging.getLogger(__name__)

S = SuspensionStatus
STEPS = {
    SuspensionKind.SUSPEND: ["stop_deployments", "stop_jobs", "block_user", "done"],
    SuspensionKind.RESUME: ["unblock_user", "done"],
    SuspensionKind.PAUSE: ["stop_deployments", "stop_jobs", "done"],
    SuspensionKind.UNPAUSE: ["done"],
}
SUSPENSION_KINDS = [SuspensionKind.SUSPEND, SuspensionKind.RESUME]
OPEN = [S.PENDING, S.RUNNING, S.WAITING, S.FAILED]
SERVING_LABELS = ("serving.hops.works/", "serving.kserve.io/inferenceservice")
ACTIVE_POD_PHASES = {"Pending", "Running"}


class SuspensionInvalid(Exception):
    """Bad input from staff (e.g. no reason): nothing was written."""


class SuspensionRetry(Exception):
    retryable = True


class SuspensionFailed(Exception):
    retryable = False


# --- starting and lifting ----------------------------------------------------------------------


def suspension_latest(*, user: User, kinds: list[str] | None = None) -> SuspensionRun | None:
    """The user's newest run that was not canceled: it says whether they are suspended or
    paused. With `kinds`, the newest of those kinds."""
    runs_of_user = SuspensionRun.objects.filter(user=user).exclude(status=S.CANCELED)
    if kinds is not None:
        runs_of_user = runs_of_user.filter(kind__in=kinds)
    return runs_of_user.order_by("-id").first()


def suspension_in_force(*, user_id: int) -> bool:
    """Whether the user's work is stopped now (suspended or paused): the only case in which a
    payment can change anything at once. One query."""
    latest = (
        SuspensionRun.objects.filter(user_id=user_id)
        .exclude(status=S.CANCELED)
        .order_by("-id")
        .values_list("kind", flat=True)
        .first()
    )
    return latest in {SuspensionKind.SUSPEND, SuspensionKind.PAUSE}


def suspension_is_active(*, user: User) -> bool:
    latest = suspension_latest(user=user)
    return latest is not None and latest.kind == SuspensionKind.SUSPEND


@transaction.atomic
def suspension_start(
    *, user: User, cause: str, requested_by: User | None = None, note: str = ""
) -> SuspensionRun | None:
    """Suspend the user's account: status SUSPENDED now, their work stopped by the run.
    Returns the run (the existing one when already suspended), or None for an exempt user
    (automatic causes only; staff suspend anyway)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.suspension_exempt and cause != SuspensionCause.STAFF:
        return None
    _account_status_set(user, AccountStatus.SUSPENDED)
    latest = suspension_latest(user=user)
    if latest is not None and latest.kind == SuspensionKind.SUSPEND:
        return latest
    return _run_create(user, SuspensionKind.SUSPEND, cause, requested_by, note)


@transaction.atomic
def suspension_lift(
    *,
    user: User,
    cause: str,
    status: str = AccountStatus.ACTIVE,
    requested_by: User | None = None,
    note: str = "",
) -> SuspensionRun | None:
    """End a suspension: the account gets `status`, the user is unblocked by the run. None
    when the user is not suspended."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not suspension_is_active(user=user):
        return None
    _account_status_set(user, status)
    return _run_create(user, SuspensionKind.RESUME, cause, requested_by, note)


@transaction.atomic
def pause_start(*, user: User, note: str = "") -> SuspensionRun | None:
    """Stop the user's running work for their spend cap, without blocking them. None (nothing
    done) while they are suspended (that stopped it already and takes precedence), already
    paused, or being resumed (the resume finishes unblocking first; the next sync pauses)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    latest = suspension_latest(user=user)
    if latest is not None and (
        latest.kind in (SuspensionKind.SUSPEND, SuspensionKind.PAUSE)
        or (latest.kind == SuspensionKind.RESUME and latest.status in OPEN)
    ):
        return None
    return _run_create(user, SuspensionKind.PAUSE, SuspensionCause.SPEND_CAP, None, note)


@transaction.atomic
def pause_lift(*, user: User, note: str = "") -> SuspensionRun | None:
    """End a pause: nothing to unblock; the user starts again what they need. None unless the
    user is paused (a suspension is never lifted here)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    latest = suspension_latest(user=user)
    if latest is None or latest.kind != SuspensionKind.PAUSE:
        return None
    return _run_create(user, SuspensionKind.UNPAUSE, SuspensionCause.SPEND_CAP_LIFTED, None, note)


def _account_status_set(user: User, status: str) -> None:
    BillingAccount.objects.filter(user=user).exclude(status=status).update(
        status=status, updated_at=timezone.now()
    )


def _run_create(user, kind, cause, requested_by, note) -> SuspensionRun:
    SuspensionRun.objects.filter(user=user, status__in=OPEN).update(
        status=S.CANCELED, next_attempt_at=None, finished_at=timezone.now()
    )
    run = SuspensionRun.objects.create(
        user=user, kind=kind, cause=cause, requested_by=requested_by, note=note[:2000]
    )
    SuspensionStep.objects.bulk_create(
        SuspensionStep(run=run, name=name, position=i) for i, name in enumerate(STEPS[kind])
    )
    _enqueue(run.pk)
    return run


def _enqueue(run_id: int) -> None:
    # The run row records the intent: a broker outage delays it to the stale-run sweeper.
    task_enqueue("accounts.tasks.suspension_execute", args=[run_id], record=False)


# --- what the billing state asks for -----------------------------------------------------------

AUTOMATIC = {
    SuspensionCause.DUNNING,
    SuspensionCause.PREPAID_ARREARS,
}


def arrears_since(*, account: BillingAccount):
    """When a prepaid balance last went below zero (None when it is not below zero): the
    posting after the last one that left the balance at zero or above."""
    if account.balance_cents >= 0:
        return None
    # Postings of one account are made under its row lock, so id order is posting order.
    ledger = CreditTransaction.objects.filter(account=account)
    last_ok = ledger.filter(balance_after_cents__gte=0).order_by("-id").first()
    after = ledger.filter(id__gt=last_ok.id) if last_ok else ledger
    first = after.filter(balance_after_cents__lt=0).order_by("id").first()
    return first.created_at if first else None


def _should_suspend(account: BillingAccount, now) -> str | None:
    if account.is_prepaid:
        since = arrears_since(account=account)
        limit = timedelta(hours=settings.PREPAID_ARREARS_GRACE_HOURS)
        return SuspensionCause.PREPAID_ARREARS if since and since <= now - limit else None
    return SuspensionCause.DUNNING if dunning_overdue(account=account, now=now) else None


def suspension_sync(*, user: User, now=None) -> SuspensionRun | None:
    """Suspend or resume the user as their billing state asks, idempotently:

    1. postpaid with an unpaid invoice past its grace period, or prepaid below zero for longer
       than PREPAID_ARREARS_GRACE_HOURS: suspend (unless exempt);
    2. suspended for one of those causes and the cause is gone (invoice paid, balance back at
       or above zero): resume; the status becomes in arrears while something is still owed
       within its grace, else active;
    3. staff suspensions are left for staff to lift;
    4. not suspended: pause or unpause as the spend cap asks (an open SpendPause or none).
    Returns the run it started, if any."""
    now = now or timezone.now()
    account = BillingAccount.objects.get(user=user)
    cause = _should_suspend(account, now)
    latest = suspension_latest(user=user)
    suspended = latest is not None and latest.kind == SuspensionKind.SUSPEND
    if cause and not suspended:
        return suspension_start(user=user, cause=cause)
    if not suspended:
        return _pause_sync(user, account, latest)
    if cause or latest.cause not in AUTOMATIC:
        return None
    owing = account.balance_cents < 0 if account.is_prepaid else _open_case(account)
    return suspension_lift(
        user=user,
        cause=SuspensionCause.BALANCE_RESTORED if account.is_prepaid else SuspensionCause.PAYMENT,
        status=AccountStatus.IN_ARREARS if owing else AccountStatus.ACTIVE,
    )


def _pause_sync(user: User, account: BillingAccount, latest: SuspensionRun | None):
    """4. an open spend-cap pause and the work not paused: pause; paused and no open pause:
    unpause."""
    wanted = SpendPause.objects.filter(account=account, lifted_at__isnull=True).exists()
    paused = latest is not None and latest.kind == SuspensionKind.PAUSE
    if wanted and not paused:
        return pause_start(user=user)
    if paused and not wanted:
        return pause_lift(user=user)
    return None


def _open_case(account: BillingAccount) -> bool:
    return DunningCase.objects.filter(
        account=account, status__in=[DunningCase.Status.OPEN, DunningCase.Status.OVERDUE]
    ).exists()


def suspension_candidates() -> list[int]:
    """Users whose suspension state may need to change: an open dunning case, a prepaid
    balance below zero, an open spend-cap pause (its run may be missing), or an automatic
    suspension in place. A lifted pause queues its own sync (a recorded task)."""
    owing = BillingAccount.objects.filter(
        Q(dunning_cases__status__in=[DunningCase.Status.OPEN, DunningCase.Status.OVERDUE])
        | Q(mode=BillingMode.PREPAID, balance_cents__lt=0)
        | Q(pk__in=SpendPause.objects.filter(lifted_at__isnull=True).values("account_id"))
    ).values_list("user_id", flat=True)
    suspended = SuspensionRun.objects.filter(
        kind=SuspensionKind.SUSPEND, cause__in=AUTOMATIC
    ).values_list("user_id", flat=True)
    return sorted(set(owing) | set(suspended))


def suspension_sweep(*, now=None) -> dict[str, int]:
    """Beat: lift the spend-cap pauses whose cause is gone (a new month), then bring every
    candidate in line with its billing state."""
    spend_caps_recheck(now=now)
    started = 0
    for user in User.objects.filter(pk__in=suspension_candidates()):
        started += suspension_sync(user=user, now=now) is not None
    return {"runs_started": started}


# --- staff ---------------------------------------------------------------------------------------


def _reason_required(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise SuspensionInvalid("A reason is required.")
    return reason


def suspension_staff_suspend(*, user: User, staff: User, reason: str) -> SuspensionRun | None:
    return _staff_decide(user, staff, reason, SuspensionAction.Action.SUSPEND, suspension_start)


def suspension_staff_resume(*, user: User, staff: User, reason: str) -> SuspensionRun | None:
    return _staff_decide(user, staff, reason, SuspensionAction.Action.RESUME, suspension_lift)


@transaction.atomic
def _staff_decide(user: User, staff: User, reason: str, action: str, change: Callable):
    """The audit row, then the change it asks for (suspension_start or suspension_lift)."""
    reason = _reason_required(reason)
    SuspensionAction.objects.create(user=user, action=action, reason=reason, staff=staff)
    return change(user=user, cause=SuspensionCause.STAFF, requested_by=staff, note=reason)


@transaction.atomic
def suspension_exempt_set(*, user: User, staff: User, reason: str, exempt: bool) -> User:
    """Exempt a user from automatic suspension (dunning, prepaid arrears), or end it. An
    exemption does not lift a suspension already in place: resume for that."""
    reason = _reason_required(reason)
    action = SuspensionAction.Action.EXEMPT if exempt else SuspensionAction.Action.UNEXEMPT
    SuspensionAction.objects.create(user=user, action=action, reason=reason, staff=staff)
    User.objects.filter(pk=user.pk).update(suspension_exempt=exempt)
    user.suspension_exempt = exempt
    return user


# --- running -----------------------------------------------------------------------------------


def suspension_execute(*, run: SuspensionRun) -> SuspensionRun:
    """Run or resume one run synchronously; returns it as left (see the module docstring)."""
    this = SuspensionRun.objects.filter(pk=run.pk)
    if runs.run_claim(run_rows=this.filter(status__in=OPEN), lease=LEASE):
        try:
            _run_steps(run=run)
        finally:
            runs.run_release(run_rows=this)
    run.refresh_from_db()
    return run


def _run_steps(*, run: SuspensionRun) -> None:
    user = User.objects.select_related("cluster").get(pk=run.user_id)
    this = SuspensionRun.objects.filter(pk=run.pk)
    if runs.steps_run(
        run_rows=this,
        steps=run.steps.order_by("position"),
        call=lambda step: STEP_HANDLERS[step.name](user=user, run=run, step=step),
        fail=lambda step, exc: _step_fail(
            run=run, step=step, error=str(exc) or type(exc).__name__, exc=exc
        ),
        # A newer run took over between two steps.
        proceed=lambda: not this.filter(status=S.CANCELED).exists(),
    ):
        # Only a run still running: one canceled meanwhile stays canceled.
        runs.run_finish(run_rows=this.filter(status=S.RUNNING))


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, kube.Unreachable):
        return True
    if isinstance(exc, kube.BadResponse):
        return exc.status is None or exc.status >= 500 or exc.status == 429
    if isinstance(exc, kube.KubeError):
        return False
    return getattr(exc, "retryable", True)


def _step_fail(*, run: SuspensionRun, step: SuspensionStep, error: str, exc: Exception) -> None:
    if not isinstance(exc, HopsworksError | kube.KubeError | SuspensionFailed | SuspensionRetry):
        logger.exception("suspension step %s crashed for run %s", step.name, run.pk)
    runs.step_fail(
        run_rows=SuspensionRun.objects.filter(pk=run.pk, status=S.RUNNING),
        step=step,
        error=error[:2000],
        retryable=_retryable(exc),
    )


def suspension_stale(*, now=None) -> list[int]:
    """Ids of runs that should be moving but have no live task: pending for 5 minutes, waiting
    15 minutes past their retry time, or running on an expired lease."""
    now = now or timezone.now()
    stale = SuspensionRun.objects.filter(
        runs.run_stale_q(now=now)
        | Q(status=S.WAITING, next_attempt_at__isnull=True, updated_at__lt=now - LEASE)
        # A worker that exited mid-run released its lease but never finished.
        | Q(status=S.RUNNING, locked_until__isnull=True, updated_at__lt=now - timedelta(minutes=5))
    )
    return list(stale.values_list("pk", flat=True))


def suspension_schedule_retry(*, run: SuspensionRun, countdown: float) -> None:
    runs.run_schedule_retry(run_rows=SuspensionRun.objects.filter(pk=run.pk), countdown=countdown)


@transaction.atomic
def suspension_retry(*, run: SuspensionRun) -> SuspensionRun:
    """Staff: run a waiting or failed run again now, from its first unfinished step."""
    SuspensionRun.objects.filter(pk=run.pk, status__in=[S.WAITING, S.FAILED]).update(
        status=S.PENDING, next_attempt_at=None
    )
    _enqueue(run.pk)
    run.refresh_from_db()
    return run


# --- the steps: each returns (status, detail) or raises ----------------------------------------


def _projects(user: User) -> list[str]:
    """Names of the user's projects on their cluster."""
    client = HopsworksClient(user.cluster)
    projects = client.projects_of(email=user.email, username=user.hopsworks_username)
    return sorted(p.name for p in projects)


def _record(step: SuspensionStep, key: str, item: dict) -> None:
    """Add what is about to be stopped to the step's list (once), saved before the stop."""
    items = step.detail.setdefault(key, [])
    ident = (item["project"], item["name"])
    if any((i["project"], i["name"]) == ident for i in items):
        return
    items.append({**item, "at": timezone.now().isoformat()})
    step.save(update_fields=["detail", "updated_at"])


def _in_each_namespace(user: User, stop: Callable[[kube.KubeClient, str, str], None]):
    """Call `stop(client, project, namespace)` for each of the user's projects."""
    if user.cluster is None:
        return S.SKIPPED, {"reason": "The user has no cluster."}
    with kube.KubeClient(user.cluster) as client:
        for project in _projects(user):
            stop(client, project, namespace_for(project))
    return S.DONE, {}


def _step_stop_deployments(*, user: User, run: SuspensionRun, step: SuspensionStep):
    """Scale every serving deployment of the user's projects to zero."""

    def stop(client: kube.KubeClient, project: str, namespace: str) -> None:
        for deployment in list(client.deployments(namespace)):
            meta, spec = deployment["metadata"], deployment.get("spec") or {}
            labels = meta.get("labels") or {}
            if not any(k.startswith(SERVING_LABELS) for k in labels):
                continue
            if not spec.get("replicas"):
                continue
            serving = labels.get("serving.kserve.io/inferenceservice") or meta["name"]
            item = {"project": project, "name": meta["name"], "serving": serving}
            _record(step, "stopped", {**item, "replicas": spec["replicas"]})
            client.deployment_scale(namespace, meta["name"], 0)

    return _in_each_namespace(user, stop)


def _step_stop_jobs(*, user: User, run: SuspensionRun, step: SuspensionStep):
    """Remove the running job executions (their Kubernetes Job, else the pod)."""

    def stop(client: kube.KubeClient, project: str, namespace: str) -> None:
        for pod in list(client.namespace_pods(namespace, label_selector="job-name")):
            if (pod.get("status") or {}).get("phase") not in ACTIVE_POD_PHASES:
                continue
            labels = pod["metadata"].get("labels") or {}
            job = labels["job-name"]
            item = {"project": project, "name": job, "execution": labels.get("execution", "")}
            _record(step, "stopped", item)
            if not client.job_delete(namespace, job):
                client.pod_delete(namespace, pod["metadata"]["name"])

    return _in_each_namespace(user, stop)


def _step_block_user(*, user: User, run: SuspensionRun, step: SuspensionStep):
    if user.cluster is None or not user.hopsworks_user_id:
        return S.SKIPPED, {"reason": "The user has no Hopsworks account."}
    client = HopsworksClient(user.cluster)
    current = client.user_status(user_id=user.hopsworks_user_id)
    if "previous_status" not in step.detail:
        step.detail["previous_status"] = current
        step.save(update_fields=["detail", "updated_at"])
    if current != USER_BLOCKED:
        client.user_status_set(user_id=user.hopsworks_user_id, status=USER_BLOCKED)
    return S.DONE, {"blocked": True}


def _step_unblock_user(*, user: User, run: SuspensionRun, step: SuspensionStep):
    """Restore the status the user had before the block (activated unless recorded)."""
    if user.cluster is None or not user.hopsworks_user_id:
        return S.SKIPPED, {"reason": "The user has no Hopsworks account."}
    client = HopsworksClient(user.cluster)
    current = client.user_status(user_id=user.hopsworks_user_id)
    if current != USER_BLOCKED:
        return S.DONE, {"unblocked": False, "status": current}
    restore = _status_before_block(user)
    client.user_status_set(user_id=user.hopsworks_user_id, status=restore)
    return S.DONE, {"unblocked": True, "status": restore}


def _status_before_block(user: User) -> int:
    step = (
        SuspensionStep.objects.filter(
            run__user=user, run__kind=SuspensionKind.SUSPEND, name="block_user"
        )
        .exclude(detail__previous_status=None)
        .order_by("-run_id")
        .first()
    )
    previous = step.detail.get("previous_status") if step else None
    return previous if previous not in (None, USER_BLOCKED) else USER_ACTIVATED


def _step_done(*, user: User, run: SuspensionRun, step: SuspensionStep):
    return S.DONE, {}


STEP_HANDLERS: dict[str, Callable[..., tuple[str, dict]]] = {
    "stop_deployments": _step_stop_deployments,
    "stop_jobs": _step_stop_jobs,
    "block_user": _step_block_user,
    "unblock_user": _step_unblock_user,
    "done": _step_done,
}


# --- reading ---------------------------------------------------------------------------------


RESUMED_SHOWN_FOR = timedelta(days=30)


def suspension_summary(*, user: User, now=None, pause: bool = False) -> dict | None:
    """For the billing page: the current suspension (with `pause`: spend-cap pause), what was
    stopped and when, or the one lifted in the last 30 days (so the user knows what to start
    again); else None."""
    now = now or timezone.now()
    stop, lift = (SuspensionKind.PAUSE, SuspensionKind.UNPAUSE) if pause else SUSPENSION_KINDS
    latest = suspension_latest(user=user, kinds=[stop, lift])
    if latest is None:
        return None
    if latest.kind == stop:
        return {"active": True, **_stopped_by(latest)}
    if latest.created_at < now - RESUMED_SHOWN_FOR:
        return None
    # A suspension the resume canceled half-way still stopped what its steps recorded.
    previous = (
        SuspensionRun.objects.filter(user=user, kind=stop, id__lt=latest.id).order_by("-id").first()
    )
    if previous is None:
        return None
    return {"active": False, "resumed_at": latest.created_at, **_stopped_by(previous)}


def suspension_stopped(*, user: User) -> dict | None:
    """What the current suspension stopped and when, for the page; None when not suspended.
    {"since", "cause", "deployments": [...], "jobs": [...], "blocked", "in_progress"}."""
    run = suspension_latest(user=user)
    if run is None or run.kind != SuspensionKind.SUSPEND:
        return None
    return _stopped_by(run)


def _stopped_by(run: SuspensionRun) -> dict:
    steps = {s.name: s for s in run.steps.all()}
    block = steps.get("block_user")
    return {
        "since": run.created_at,
        "cause": run.get_cause_display(),
        "deployments": steps["stop_deployments"].detail.get("stopped", []),
        "jobs": steps["stop_jobs"].detail.get("stopped", []),
        "blocked": bool(block and block.status == S.DONE and block.detail.get("blocked")),
        "in_progress": run.status != S.DONE,
    }
