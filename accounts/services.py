"""Signup and provisioning.

Provisioning is a resumable state machine: one ProvisioningRun per user with one row per step.
Each step looks before it creates (Stripe: stored id / metadata search / idempotency key;
Hopsworks: lookup by subject or creator first), so running a run again, after a crash, a
timeout or a day of failures, finishes the job without duplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from accounts import runs
from accounts.models import ProvisioningRun, ProvisioningStatus, ProvisioningStep, User
from accounts.runs import LEASE
from billing.ledger import billing_account_ensure
from billing.payments import gateway
from clusters.hopsworks import (
    HopsworksClient,
    HopsworksConflict,
    HopsworksError,
    project_name_for,
)
from clusters.models import Cluster
from clusters.services import ClusterError, FleetFull
from jobs.services import task_enqueue

logger = logging.getLogger(__name__)

STEPS = [
    "stripe_customer",
    "stripe_subscription",
    "cluster_assigned",
    "hopsworks_user",
    "default_project",
    "done",
]
S = ProvisioningStatus


class SignupError(Exception):
    pass


class SignupInvalid(SignupError):
    """Bad input: nothing was written."""


class SignupConflict(SignupError):
    """The email belongs to a user linked to another Auth0 subject."""


class ProvisioningFailed(Exception):
    """A step cannot succeed without staff (bad configuration, an unsupported edition)."""

    retryable = False


class ProvisioningRetry(Exception):
    """A step failed for a reason that may pass (outside system down, fleet full)."""

    retryable = True


# --- signup ------------------------------------------------------------------------------------


@transaction.atomic
def user_create(*, email: str, password: str | None = None, **fields) -> User:
    """The one way a user comes to be: the user row and its billing account, in one
    transaction. Every door leads here: signup (webhook and login), the user manager (so
    Django's createsuperuser), and the staff panel (through `user_open`)."""
    if not email:
        raise ValueError("An email address is required.")
    user = User(email=User.objects.normalize_email(email).lower(), **fields)
    user.set_password(password)
    user.save()
    return user_open(user=user)


def user_open(*, user: User) -> User:
    """What a new user gets besides the row: a billing account (postpaid). Safe to repeat."""
    billing_account_ensure(user=user)
    return user


def signup_register(
    *,
    auth0_subject: str,
    email: str,
    given_name: str = "",
    family_name: str = "",
    name: str = "",
) -> User:
    """Find or create the user for an Auth0 identity (by subject, then by email), ensure the
    billing account and start provisioning. Repeated calls create nothing new."""
    subject = (auth0_subject or "").strip()
    email = (email or "").strip().lower()
    if not subject or len(subject) > 255:
        raise SignupInvalid("An Auth0 user id (subject) is required.")
    try:
        validate_email(email)
    except ValidationError as exc:
        raise SignupInvalid("A valid email address is required.") from exc
    first, last = _names(given_name, family_name, name)
    try:
        with transaction.atomic():
            user = _user_for_identity(subject=subject, email=email, first=first, last=last)
    except IntegrityError:
        # A concurrent call for the same identity won the insert; it is ours now.
        with transaction.atomic():
            user = _user_for_identity(subject=subject, email=email, first=first, last=last)
    with transaction.atomic():
        billing_account_ensure(user=user)
        provisioning_start(user=user)
    return user


def _names(given_name: str, family_name: str, name: str) -> tuple[str, str]:
    first, last = (given_name or "").strip(), (family_name or "").strip()
    if not first and not last and name:
        first, _, last = name.strip().partition(" ")
    return first[:150], last.strip()[:150]


def _user_for_identity(*, subject: str, email: str, first: str, last: str) -> User:
    user = User.objects.select_for_update().filter(auth0_subject=subject).first()
    if user is None:
        user = User.objects.select_for_update().filter(email__iexact=email).first()
        if user is not None and user.auth0_subject and user.auth0_subject != subject:
            raise SignupConflict(f"{email} is already linked to another Auth0 identity.")
    if user is None:
        return user_create(email=email, auth0_subject=subject, first_name=first, last_name=last)
    changed = []
    if not user.auth0_subject:
        user.auth0_subject = subject
        changed.append("auth0_subject")
    if first and not user.first_name:
        user.first_name = first
        changed.append("first_name")
    if last and not user.last_name:
        user.last_name = last
        changed.append("last_name")
    if changed:
        user.save(update_fields=changed)
    return user


# --- the run -------------------------------------------------------------------------------------


@transaction.atomic
def cluster_assign(*, user) -> Cluster:
    """Put the user on the active cluster with free capacity and the fewest users.

    The active clusters are locked (in id order) for the count and the write, so two signups
    at once cannot both take the last seat. Already assigned: the user keeps their cluster.
    """
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.cluster_id:
        user.cluster = locked.cluster
        return locked.cluster
    clusters = list(Cluster.objects.select_for_update().filter(is_active=True).order_by("pk"))
    counts = {
        row["cluster"]: row["n"]
        for row in User.objects.filter(cluster__in=clusters)
        .values("cluster")
        .annotate(n=Count("pk"))
    }
    free = [c for c in clusters if counts.get(c.pk, 0) < c.capacity]
    if not free:
        raise FleetFull(
            f"No active cluster has free capacity ({len(clusters)} active): add a cluster or "
            "raise a capacity; the signup stays waiting and is retried."
        )
    chosen = min(free, key=lambda c: (counts.get(c.pk, 0), c.pk))
    locked.cluster = chosen
    locked.save(update_fields=["cluster"])
    user.cluster = chosen
    return chosen


def provisioning_ensure(*, user: User) -> ProvisioningRun:
    """The user's run with all its step rows (created if missing). Writes only when missing."""
    run, _ = ProvisioningRun.objects.get_or_create(user=user)
    have = set(run.steps.values_list("name", flat=True))
    missing = [
        ProvisioningStep(run=run, name=name, position=i)
        for i, name in enumerate(STEPS)
        if name not in have
    ]
    if missing:
        ProvisioningStep.objects.bulk_create(missing, ignore_conflicts=True)
    return run


@transaction.atomic
def provisioning_start(*, user: User) -> ProvisioningRun:
    """Create the run if missing and enqueue the worker (after commit) while it has not started.
    A waiting run already has its retry scheduled and a failed one waits for staff, so repeated
    signups or logins do not hammer Hopsworks."""
    run = provisioning_ensure(user=user)
    if run.status == S.PENDING:
        _enqueue(user.pk)
    return run


@transaction.atomic
def provisioning_retry(*, user: User) -> ProvisioningRun:
    """Staff: resume a waiting or failed run now (however old), from its first unfinished step."""
    run = provisioning_ensure(user=user)
    ProvisioningRun.objects.filter(pk=run.pk).exclude(status=S.DONE).update(
        status=S.PENDING, next_attempt_at=None
    )
    _enqueue(user.pk)
    run.refresh_from_db()
    return run


def _enqueue(user_id: int) -> None:
    # The run row is the record: a broker outage leaves it pending (logged, the request goes
    # on) and the sweeper (provisioning_resume_stale) queues it again.
    task_enqueue("accounts.tasks.provision_user", args=[user_id], record=False)


def provisioning_stale(*, now=None) -> list[int]:
    """Ids of users whose run should be moving but has no live task: pending for 5 minutes,
    waiting 15 minutes past its retry time (a lost message), or running on an expired lease."""
    now = now or timezone.now()
    stale = ProvisioningRun.objects.filter(runs.run_stale_q(now=now))
    return list(stale.values_list("user_id", flat=True))


def provisioning_run(*, user: User) -> ProvisioningRun:
    """Run or resume the user's provisioning synchronously; returns the run as left.

    1. Claim the run (a lease, so two workers never run it at once; a busy run is returned
       untouched).
    2. Run each unfinished step in order; each records attempts, errors and timestamps.
    3. A retryable failure leaves the run WAITING (the task retries with backoff); any other
       failure leaves it FAILED for staff. All steps finished: the run is DONE.
    """
    run = provisioning_ensure(user=user)
    this = ProvisioningRun.objects.filter(pk=run.pk)
    if not runs.run_claim(run_rows=this, lease=LEASE):
        run.refresh_from_db()
        return run
    try:
        _run_steps(run=run, user=User.objects.get(pk=user.pk))
    finally:
        runs.run_release(run_rows=this)
    run.refresh_from_db()
    return run


def _run_steps(*, run: ProvisioningRun, user: User) -> None:
    this = ProvisioningRun.objects.filter(pk=run.pk)

    def fail(step: ProvisioningStep, exc: Exception) -> None:
        # Our typed errors say whether waiting helps; anything unexpected is retried too.
        retryable = getattr(exc, "retryable", True)
        runs.step_fail(run_rows=this, step=step, error=_describe(exc), retryable=retryable)
        if not isinstance(exc, ProvisioningFailed | ProvisioningRetry | HopsworksError):
            logger.exception("provisioning step %s crashed for user %s", step.name, user.pk)

    if runs.steps_run(
        run_rows=this,
        steps=run.steps.order_by("position"),
        call=lambda step: STEP_HANDLERS[step.name](user=user, step=step),
        fail=fail,
    ):
        runs.run_finish(run_rows=this)


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def provisioning_schedule_retry(*, run: ProvisioningRun, countdown: float) -> None:
    runs.run_schedule_retry(run_rows=ProvisioningRun.objects.filter(pk=run.pk), countdown=countdown)


def provisioning_give_up(*, run: ProvisioningRun) -> None:
    """The task ran out of retries: the run waits for staff ("Retry provisioning")."""
    run.refresh_from_db()
    ProvisioningRun.objects.filter(pk=run.pk, status=S.WAITING).update(
        status=S.FAILED,
        next_attempt_at=None,
        last_error=f"Gave up after {run.attempts} attempts: {run.last_error}",
    )


# --- the steps: each returns (status, detail) or raises -------------------------------------------


def _stripe_call(fn: Callable[..., str], account) -> str:
    try:
        return fn(account=account)
    except gateway.StripeUnavailable as exc:
        raise ProvisioningRetry(str(exc)) from exc
    except gateway.StripeError as exc:
        raise ProvisioningFailed(str(exc)) from exc


def _step_stripe_customer(*, user: User, step: ProvisioningStep) -> tuple[str, dict]:
    account = billing_account_ensure(user=user)
    if not gateway.is_configured():
        return S.NOT_CONFIGURED, {"reason": "Stripe is not configured (STRIPE_SECRET_KEY)."}
    return S.DONE, {"customer_id": _stripe_call(gateway.customer_ensure, account)}


def _step_stripe_subscription(*, user: User, step: ProvisioningStep) -> tuple[str, dict]:
    account = billing_account_ensure(user=user)
    if account.is_prepaid:
        return S.SKIPPED, {"reason": "Prepaid account: no metered subscription."}
    if not gateway.is_configured():
        return S.NOT_CONFIGURED, {"reason": "Stripe is not configured (STRIPE_SECRET_KEY)."}
    return S.DONE, {"subscription_id": _stripe_call(gateway.subscription_ensure, account)}


def _step_cluster_assigned(*, user: User, step: ProvisioningStep) -> tuple[str, dict]:
    try:
        cluster = cluster_assign(user=user)
    except ClusterError as exc:
        if getattr(exc, "retryable", False):
            raise ProvisioningRetry(str(exc)) from exc
        raise ProvisioningFailed(str(exc)) from exc
    return S.DONE, {"cluster": cluster.name}


def _step_hopsworks_user(*, user: User, step: ProvisioningStep) -> tuple[str, dict]:
    if user.hopsworks_user_id:
        return S.DONE, {"username": user.hopsworks_username, "id": user.hopsworks_user_id}
    cluster = user.cluster
    if cluster is None:
        raise ProvisioningFailed(f"{user.email} has no cluster (it was removed): retry.")
    if not cluster.auth0_client_id:
        raise ProvisioningFailed(f"Cluster {cluster.name} has no Auth0 client id configured.")
    if not user.auth0_subject:
        raise ProvisioningFailed(f"{user.email} has no Auth0 subject: they never signed up.")
    client = HopsworksClient(cluster)
    identity = {"client_id": cluster.auth0_client_id, "subject": user.auth0_subject}
    found = client.user_find(**identity, email=user.email)
    created = False
    if found is None:
        try:
            client.user_create_oauth(
                **identity, email=user.email, given_name=user.first_name, surname=user.last_name
            )
            created = True
        except HopsworksConflict as exc:
            if client.user_find(**identity, email=user.email) is None:
                raise ProvisioningFailed(
                    f"A Hopsworks user with {user.email} exists on {cluster.name} but is not "
                    "the OAuth user of this Auth0 subject: link or remove it, then retry."
                ) from exc
        found = client.user_find(**identity, email=user.email)
    if found is None or found.id is None:
        raise ProvisioningRetry("The Hopsworks user is not visible yet (no numeric id).")
    User.objects.filter(pk=user.pk).update(
        hopsworks_user_id=found.id, hopsworks_username=found.username
    )
    user.hopsworks_user_id, user.hopsworks_username = found.id, found.username
    return S.DONE, {"username": found.username, "id": found.id, "created": created}


def _step_default_project(*, user: User, step: ProvisioningStep) -> tuple[str, dict]:
    if step.detail.get("project"):
        return S.DONE, {}
    if not user.hopsworks_username or user.cluster is None:
        raise ProvisioningFailed("The user has no Hopsworks user or cluster yet.")
    client = HopsworksClient(user.cluster)
    projects = client.projects_list()
    mine = [
        p
        for p in projects
        if p.creator_email.lower() == user.email
        or p.creator_username.lower() == user.hopsworks_username.lower()
    ]
    if mine:
        return S.DONE, {"project": mine[0].name, "created": False}
    name = project_name_for(base=user.hopsworks_username, taken={p.name for p in projects})
    try:
        client.project_create_as(owner_username=user.hopsworks_username, name=name)
    except HopsworksConflict as exc:
        # Someone took the name between our list and our create: pick again next attempt.
        raise ProvisioningRetry(str(exc)) from exc
    return S.DONE, {"project": name, "created": True}


def _step_done(*, user: User, step: ProvisioningStep) -> tuple[str, dict]:
    return S.DONE, {}


STEP_HANDLERS: dict[str, Callable[..., tuple[str, dict]]] = {
    "stripe_customer": _step_stripe_customer,
    "stripe_subscription": _step_stripe_subscription,
    "cluster_assigned": _step_cluster_assigned,
    "hopsworks_user": _step_hopsworks_user,
    "default_project": _step_default_project,
    "done": _step_done,
}
