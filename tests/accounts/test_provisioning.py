from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import ProvisioningRun, ProvisioningStatus, User
from accounts.services import (
    SignupConflict,
    SignupInvalid,
    provisioning_retry,
    provisioning_run,
    signup_register,
)
from billing.ledger import billing_account_ensure, prepaid_enable
from billing.models import BillingAccount
from clusters.models import Cluster
from tests.accounts.fakes import assert_one_of_everything
from tests.stripe_fakes import stripe_object

S = ProvisioningStatus


def _signup(email="alice@example.com", subject="auth0|alice") -> User:
    return signup_register(
        auth0_subject=subject, email=email, given_name="Alice", family_name="Anders"
    )


def _steps(user: User) -> dict[str, str]:
    return {s.name: s.status for s in ProvisioningRun.objects.get(user=user).steps.all()}


def test_signup_ends_with_customer_subscription_cluster_user_and_project(
    hopsworks, stripe_fake, cluster, settings
):
    user = _signup()
    run = provisioning_run(user=user)

    assert run.status == S.DONE
    assert set(_steps(user).values()) == {S.DONE}
    user.refresh_from_db()
    account = BillingAccount.objects.get(user=user)
    assert account.stripe_customer_id == "cus_test1"
    assert account.stripe_subscription_id == "sub_test1"
    assert stripe_fake.idempotency_keys == [f"customer:{account.pk}", f"subscription:{account.pk}"]
    assert set(stripe_fake.lookup_keys) == set(settings.STRIPE_METERED_PRICE_LOOKUP_KEYS)
    assert len(stripe_fake.subscriptions[0]["items_requested"]) == len(stripe_fake.lookup_keys)
    assert user.cluster == cluster
    assert (user.hopsworks_user_id, user.hopsworks_username) == (10001, "alice000")
    assert hopsworks.users[0]["uuid"] == "auth0-client-abc.auth0|alice"
    assert [p["name"] for p in hopsworks.projects] == ["alice000"]
    project_step = run.steps.get(name="default_project")
    assert project_step.detail == {"project": "alice000", "created": True}
    assert project_step.attempts == 1 and project_step.finished_at is not None


def test_running_again_creates_nothing_new(hopsworks, stripe_fake, cluster):
    user = _signup()
    provisioning_run(user=user)
    posts_before = len(stripe_fake.idempotency_keys)

    _signup()
    run = provisioning_run(user=user)

    assert run.status == S.DONE
    assert User.objects.count() == 1 and ProvisioningRun.objects.count() == 1
    assert len(stripe_fake.idempotency_keys) == posts_before
    assert (hopsworks.user_creates, hopsworks.project_creates) == (1, 1)
    assert len(stripe_fake.customers) == len(stripe_fake.subscriptions) == 1


def test_hopsworks_down_midway_then_resume_makes_no_duplicates(hopsworks, stripe_fake, cluster):
    user = _signup()
    # The create reaches Hopsworks but the answer is lost; then Hopsworks goes down.
    hopsworks.lose_answer_of = {"POST /admin/users"}
    run = provisioning_run(user=user)
    assert run.status == S.WAITING
    assert run.current_step == "hopsworks_user"
    assert "unreachable" in run.last_error
    hopsworks.lose_answer_of = set()
    hopsworks.down = True
    run = provisioning_run(user=user)
    assert run.status == S.WAITING
    assert _steps(user)["stripe_customer"] == S.DONE

    hopsworks.down = False
    run = provisioning_run(user=user)

    assert run.status == S.DONE
    assert_one_of_everything(hopsworks, stripe_fake)
    step = run.steps.get(name="hopsworks_user")
    assert step.attempts == 3 and step.last_error == ""
    assert step.detail["created"] is False  # found on resume, not created again


def test_lost_answer_of_project_create_is_found_on_resume(hopsworks, stripe_fake, cluster):
    user = _signup()
    hopsworks.lose_answer_of = {"POST /admin/projects/createas"}
    assert provisioning_run(user=user).status == S.WAITING
    hopsworks.lose_answer_of = set()

    run = provisioning_run(user=user)

    assert run.status == S.DONE
    assert hopsworks.project_creates == 1
    assert run.steps.get(name="default_project").detail["created"] is False


def test_community_edition_fails_clearly_and_is_not_retried(hopsworks, stripe_fake, cluster):
    hopsworks.edition = "community"
    user = _signup()

    run = provisioning_run(user=user)

    assert run.status == S.FAILED
    step = run.steps.get(name="hopsworks_user")
    assert step.status == S.FAILED
    assert "Remote auth not supported" in step.last_error
    assert hopsworks.users == [] and hopsworks.projects == []
    user.refresh_from_db()
    assert user.hopsworks_user_id is None


def test_without_stripe_the_stripe_steps_are_skipped_not_configured(hopsworks, cluster, settings):
    settings.STRIPE_SECRET_KEY = ""
    user = _signup()

    run = provisioning_run(user=user)

    assert run.status == S.DONE
    steps = _steps(user)
    assert steps["stripe_customer"] == steps["stripe_subscription"] == S.NOT_CONFIGURED
    assert steps["default_project"] == S.DONE


def test_prepaid_account_gets_a_customer_but_no_subscription(
    hopsworks, stripe_fake, cluster, staff
):
    user = User.objects.create_user("alice@example.com", None, auth0_subject="auth0|alice")
    prepaid_enable(account=billing_account_ensure(user=user), changed_by=staff, reason="test")

    run = provisioning_run(user=user)

    assert run.status == S.DONE
    assert _steps(user)["stripe_subscription"] == S.SKIPPED
    assert len(stripe_fake.customers) == 1 and stripe_fake.subscriptions == []


def test_stripe_down_waits_then_resumes_with_one_customer(hopsworks, stripe_fake, cluster):
    user = _signup()
    stripe_fake.down = True
    run = provisioning_run(user=user)
    assert run.status == S.WAITING and run.current_step == "stripe_customer"
    assert "Stripe unavailable" in run.last_error

    stripe_fake.down = False
    assert provisioning_run(user=user).status == S.DONE
    assert len(stripe_fake.customers) == 1


def test_full_fleet_leaves_the_signup_waiting_until_capacity_is_added(
    hopsworks, stripe_fake, cluster
):
    cluster.capacity = 0
    cluster.save()
    user = _signup()

    run = provisioning_run(user=user)

    assert run.status == S.WAITING
    assert run.current_step == "cluster_assigned"
    assert "No active cluster has free capacity" in run.last_error
    cluster.capacity = 5
    cluster.save()
    assert provisioning_run(user=user).status == S.DONE


def test_existing_oauth_user_is_adopted_not_created(hopsworks, stripe_fake, cluster):
    hopsworks.add_user(
        email="alice@example.com", username="alice123", uuid="auth0-client-abc.auth0|alice"
    )
    user = _signup()

    run = provisioning_run(user=user)

    assert run.status == S.DONE
    assert hopsworks.user_creates == 0
    user.refresh_from_db()
    assert user.hopsworks_username == "alice123"


def test_existing_plain_user_with_the_email_needs_staff(hopsworks, stripe_fake, cluster):
    hopsworks.add_user(email="alice@example.com", username="alice999")
    user = _signup()

    run = provisioning_run(user=user)

    assert run.status == S.FAILED
    assert "exists on c1 but is not the OAuth user" in run.last_error
    assert hopsworks.user_creates == 0 and len(hopsworks.users) == 1


def test_servers_without_subject_lookup_fall_back_to_scanning_users(
    hopsworks, stripe_fake, cluster
):
    hopsworks.subject_endpoint = False
    hopsworks.add_user(
        email="alice@example.com", username="alice123", uuid="auth0-client-abc.auth0|alice"
    )
    user = _signup()

    assert provisioning_run(user=user).status == S.DONE
    assert hopsworks.user_creates == 0


def test_taken_project_name_gets_a_unique_suffix(hopsworks, stripe_fake, cluster):
    hopsworks.add_project(
        name="alice000", creator={"email": "other@example.com", "username": "other000"}
    )
    user = _signup()

    run = provisioning_run(user=user)

    assert run.steps.get(name="default_project").detail["project"] == "alice000_2"


def test_wrong_api_key_fails_for_staff_and_retry_finishes_after_the_fix(
    hopsworks, stripe_fake, cluster, django_capture_on_commit_callbacks
):
    cluster.api_key = "wrong"
    cluster.save()
    user = _signup()
    run = provisioning_run(user=user)
    assert run.status == S.FAILED and "API key was refused" in run.last_error
    assert "wrong" not in run.last_error

    cluster.api_key = "hw-api-key-secret-123"
    cluster.save()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert provisioning_retry(user=user).status == S.PENDING
    assert len(callbacks) == 1
    assert provisioning_run(user=user).status == S.DONE


def test_signup_register_finds_by_subject_then_email_and_creates_nothing_twice(db):
    existing = User.objects.create_user("bob@example.com", "pw-bob-12345")

    user = signup_register(auth0_subject="auth0|bob", email="Bob@Example.com", name="Bob Builder")
    again = signup_register(auth0_subject="auth0|bob", email="bob@example.com")

    assert user.pk == existing.pk == again.pk
    user.refresh_from_db()
    assert (user.auth0_subject, user.first_name, user.last_name) == ("auth0|bob", "Bob", "Builder")
    assert BillingAccount.objects.filter(user=user).count() == 1
    assert ProvisioningRun.objects.filter(user=user).count() == 1
    assert user.provisioning.steps.count() == 6


def test_signup_register_refuses_bad_input_and_foreign_subjects(db):
    signup_register(auth0_subject="auth0|bob", email="bob@example.com")
    with pytest.raises(SignupInvalid):
        signup_register(auth0_subject="", email="x@example.com")
    with pytest.raises(SignupInvalid):
        signup_register(auth0_subject="auth0|x", email="not-an-email")
    with pytest.raises(SignupConflict):
        signup_register(auth0_subject="google-oauth2|bob", email="bob@example.com")
    assert User.objects.count() == 1


def test_provision_user_command_prints_the_steps(hopsworks, stripe_fake, cluster, capsys):
    _signup()
    call_command("provision_user", "alice@example.com")
    out = capsys.readouterr().out
    assert "default_project" in out and "Run: done" in out


def test_provision_user_command_fails_for_unknown_or_stuck_users(hopsworks, cluster):
    with pytest.raises(CommandError, match="No user"):
        call_command("provision_user", "nobody@example.com")
    Cluster.objects.update(capacity=0)
    _signup()
    with pytest.raises(CommandError, match="free capacity"):
        call_command("provision_user", "alice@example.com")


def test_a_customer_created_before_a_crash_is_found_not_created_again(
    hopsworks, stripe_fake, cluster
):
    user = _signup()
    account = BillingAccount.objects.get(user=user)
    # Stripe created the customer and a subscription, but we never stored the ids.
    existing = stripe_object("customer", id="cus_before_crash")
    existing["metadata"] = {"hopsbill_account_id": str(account.pk)}
    stripe_fake.customers.append(existing)
    stripe_fake.subscriptions.append(
        stripe_object(
            "subscription",
            id="sub_before_crash",
            customer="cus_before_crash",
            status="active",
        )
    )

    assert provisioning_run(user=user).status == S.DONE

    account.refresh_from_db()
    assert (account.stripe_customer_id, account.stripe_subscription_id) == (
        "cus_before_crash",
        "sub_before_crash",
    )
    assert stripe_fake.idempotency_keys == []  # nothing was created


def test_missing_stripe_prices_fail_for_staff_with_the_fix_named(
    hopsworks, stripe_fake, cluster, settings
):
    settings.STRIPE_METERED_PRICE_LOOKUP_KEYS = []
    user = _signup()

    run = provisioning_run(user=user)

    assert run.status == S.FAILED and run.current_step == "stripe_subscription"
    assert "setup_stripe" in run.last_error
    assert stripe_fake.subscriptions == []


def test_start_queues_only_a_run_that_has_not_started(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as first:
        user = _signup()
    for status in (S.WAITING, S.FAILED, S.DONE):
        ProvisioningRun.objects.filter(user=user).update(status=status)
        with django_capture_on_commit_callbacks(execute=False) as again:
            _signup()
        assert again == [], status
    assert len(first) == 1


def test_the_sweeper_finds_runs_whose_task_was_lost(db):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.services import provisioning_ensure, provisioning_stale

    now = timezone.now()
    users = [User.objects.create_user(f"u{n}@example.com", None) for n in range(6)]
    runs = [provisioning_ensure(user=u) for u in users]
    states = [
        (S.PENDING, {}),  # just created: its task is on its way
        (S.PENDING, {"updated_at": now - timedelta(minutes=6)}),
        (S.WAITING, {"next_attempt_at": now + timedelta(minutes=1)}),
        (S.WAITING, {"next_attempt_at": now - timedelta(minutes=16)}),
        (S.RUNNING, {"locked_until": now - timedelta(seconds=1)}),
        (S.FAILED, {"updated_at": now - timedelta(days=2)}),
    ]
    for run, (status, extra) in zip(runs, states, strict=True):
        ProvisioningRun.objects.filter(pk=run.pk).update(status=status, **extra)

    assert sorted(provisioning_stale(now=now)) == [users[1].pk, users[3].pk, users[4].pk]


def test_a_prepaid_account_switched_to_postpaid_gets_its_subscription(
    hopsworks, stripe_fake, cluster, staff, django_capture_on_commit_callbacks
):
    from billing.payments.subscriptions import postpaid_switch
    from config.celery import app

    user = User.objects.create_user("alice@example.com", None, auth0_subject="auth0|alice")
    account = prepaid_enable(
        account=billing_account_ensure(user=user), changed_by=staff, reason="t"
    )
    provisioning_run(user=user)
    assert stripe_fake.subscriptions == []

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            postpaid_switch(account=account, changed_by=staff, reason="back to invoices")
    finally:
        app.conf.task_always_eager = False

    account.refresh_from_db()
    assert len(stripe_fake.subscriptions) == 1
    assert account.stripe_subscription_id == stripe_fake.subscriptions[0]["id"]
