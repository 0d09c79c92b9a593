from __future__ import annotations

import pytest

from accounts.models import ProvisioningRun, ProvisioningStatus, User
from accounts.services import provisioning_ensure
from tests.accounts.fakes import API_KEY

USERS = "/admin/accounts/user/"
CLUSTERS = "/admin/clusters/cluster/"
RUNS = "/admin/accounts/provisioningrun/"


@pytest.fixture
def alice(db, cluster, hopsworks) -> User:
    user = User.objects.create_user(
        "alice@example.com", None, auth0_subject="auth0|alice", cluster=cluster
    )
    row = hopsworks.add_user(
        email="alice@example.com", username="alice000", uuid="auth0-client-abc.auth0|alice"
    )
    hopsworks.add_project(name="alpha", creator=row)
    return user


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        USERS,
        CLUSTERS,
        RUNS,
        f"{CLUSTERS}add/",
        "/admin/webhooks/webhookevent/",
    ],
)
def test_outsider_cannot_reach_admin_pages(client, outsider, cluster, url):
    client.force_login(outsider)
    response = client.get(url)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.parametrize(
    "url, action",
    [
        (USERS, "test_hopsworks_api"),
        (USERS, "retry_provisioning"),
        (CLUSTERS, "test_hopsworks_api"),
        (RUNS, "retry_provisioning"),
    ],
)
def test_outsider_cannot_run_admin_actions(
    client, outsider, alice, hopsworks, fake_http, url, action, django_capture_on_commit_callbacks
):
    run = provisioning_ensure(user=alice)
    selected = alice.cluster_id if url == CLUSTERS else (run.pk if url == RUNS else alice.pk)
    client.force_login(outsider)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url, {"action": action, "_selected_action": [selected]})

    assert response.status_code == 302 and "/login/" in response["Location"]
    assert callbacks == [] and len(fake_http.calls) == 0


def test_staff_tests_a_users_hopsworks_api_and_sees_each_request(client, staff, alice):
    client.force_login(staff)

    response = client.post(USERS, {"action": "test_hopsworks_api", "_selected_action": [alice.pk]})

    assert response.status_code == 200
    page = response.content.decode()
    assert "GET /admin/user/auth0-client-abc.auth0%7Calice" in page
    assert "GET /admin/projects" in page
    assert "Hopsworks user: alice000 (id 10001)" in page
    assert "Projects: alpha" in page
    assert "&quot;username&quot;: &quot;alice000&quot;" in page  # the raw JSON answer
    assert " ms" in page
    assert API_KEY not in page


def test_staff_tests_a_cluster_connection(client, staff, cluster, hopsworks):
    client.force_login(staff)

    response = client.post(
        CLUSTERS, {"action": "test_hopsworks_api", "_selected_action": [cluster.pk]}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "GET /admin/users" in page and "<td>200" in page
    assert API_KEY not in page


def test_cluster_test_shows_a_refused_key(client, staff, cluster, hopsworks):
    cluster.api_key = "wrong"
    cluster.save()
    client.force_login(staff)

    response = client.post(
        CLUSTERS, {"action": "test_hopsworks_api", "_selected_action": [cluster.pk]}
    )

    assert "401" in response.content.decode()


def test_user_without_cluster_gets_a_message_not_a_crash(client, staff, owner):
    client.force_login(staff)

    response = client.post(
        USERS, {"action": "test_hopsworks_api", "_selected_action": [owner.pk]}, follow=True
    )

    assert "has no cluster yet" in response.content.decode()


def test_staff_retries_a_failed_provisioning(
    client, staff, alice, django_capture_on_commit_callbacks
):
    run = provisioning_ensure(user=alice)
    ProvisioningRun.objects.filter(pk=run.pk).update(
        status=ProvisioningStatus.FAILED, last_error="Gave up"
    )
    client.force_login(staff)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(RUNS, {"action": "retry_provisioning", "_selected_action": [run.pk]})

    assert response.status_code == 302
    assert len(callbacks) == 1
    run.refresh_from_db()
    assert run.status == ProvisioningStatus.PENDING


def test_staff_sees_runs_with_their_steps(client, staff, alice):
    run = provisioning_ensure(user=alice)
    client.force_login(staff)

    page = client.get(f"{RUNS}{run.pk}/change/").content.decode()

    assert "stripe_subscription" in page and "default_project" in page


def test_cluster_form_never_shows_the_stored_secrets(client, staff, cluster):
    client.force_login(staff)

    page = client.get(f"{CLUSTERS}{cluster.pk}/change/").content.decode()

    assert API_KEY not in page and "kind: Config" not in page
