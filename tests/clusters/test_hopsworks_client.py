from __future__ import annotations

import json

import pytest
import requests
import responses

from clusters.hopsworks import (
    HopsworksClient,
    HopsworksConflict,
    HopsworksError,
    HopsworksNotFound,
    HopsworksNotSupported,
    HopsworksProject,
    HopsworksUnauthorized,
    HopsworksUnreachable,
    project_name_for,
)
from tests.accounts.fakes import API_KEY, HOPSWORKS_URL, cluster, hopsworks_fixture

__all__ = ["cluster"]


@pytest.fixture
def rsps(settings):
    settings.HOPSWORKS_RETRY_BACKOFF = 0
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _url(path: str) -> str:
    return HOPSWORKS_URL + path


def test_requests_carry_the_api_key_and_the_configured_timeouts(rsps, cluster, settings):
    settings.HOPSWORKS_CONNECT_TIMEOUT = 3.0
    settings.HOPSWORKS_READ_TIMEOUT = 7.0
    rsps.get(_url("/admin/projects"), json=hopsworks_fixture("projects"))
    client = HopsworksClient(cluster)

    client.projects_list()

    request = rsps.calls[0].request
    assert request.headers["Authorization"] == f"ApiKey {API_KEY}"
    assert request.req_kwargs["timeout"] == (3.0, 7.0)
    assert "expand=creator" in request.url


def test_projects_list_reads_the_current_shape_with_creators(rsps, cluster):
    rsps.get(_url("/admin/projects"), json=hopsworks_fixture("projects"))

    projects = HopsworksClient(cluster).projects_list()

    assert projects == [
        HopsworksProject(119, "alpha", "alice@example.com", "alice000"),
        HopsworksProject(120, "bob_demo", "bob@example.com", "bob00000"),
    ]


def test_projects_list_reads_the_old_shape(rsps, cluster):
    rsps.get(_url("/admin/projects"), json=hopsworks_fixture("projects_legacy"))

    projects = HopsworksClient(cluster).projects_list()

    assert projects[0] == HopsworksProject(7, "legacy_one", "", "alice000")
    mine = HopsworksClient(cluster).projects_of(username="CAROL000")
    assert [p.name for p in mine] == ["legacy_two"]


def test_gets_are_retried_on_503_and_posts_are_not(rsps, cluster):
    rsps.get(_url("/admin/projects"), status=503)
    rsps.post(_url("/admin/projects/createas"), status=503)
    client = HopsworksClient(cluster)

    with pytest.raises(HopsworksUnreachable):
        client.projects_list()
    with pytest.raises(HopsworksUnreachable):
        client.project_create_as(owner_username="alice000", name="alpha")

    methods = [c.request.method for c in rsps.calls]
    assert methods.count("GET") == 3  # one try and HOPSWORKS_GET_RETRIES (2) retries
    assert methods.count("POST") == 1


def test_a_get_succeeds_after_a_transient_503(rsps, cluster):
    rsps.get(_url("/admin/projects"), status=503)
    rsps.get(_url("/admin/projects"), json=hopsworks_fixture("projects"))

    assert len(HopsworksClient(cluster).projects_list()) == 2


@pytest.mark.parametrize(
    "status, body, error",
    [
        (401, "error_unauthorized", HopsworksUnauthorized),
        (403, "error_unauthorized", HopsworksUnauthorized),
        (404, "error_user_not_found", HopsworksNotFound),
        (409, "error_project_exists", HopsworksConflict),
        (400, "error_project_exists", HopsworksConflict),
        (500, "error_remote_auth_not_supported", HopsworksNotSupported),
        (500, "error_user_not_found", HopsworksUnreachable),
    ],
)
def test_answers_map_to_typed_errors(rsps, cluster, status, body, error):
    rsps.post(_url("/admin/projects/createas"), status=status, json=hopsworks_fixture(body))

    with pytest.raises(error) as caught:
        HopsworksClient(cluster).project_create_as(owner_username="a", name="b")
    assert caught.value.status_code == status
    assert API_KEY not in str(caught.value)


def test_network_failures_are_unreachable_and_retryable(rsps, cluster):
    rsps.get(_url("/admin/projects"), body=requests.ConnectTimeout("slow"))

    with pytest.raises(HopsworksUnreachable) as caught:
        HopsworksClient(cluster).projects_list()
    assert caught.value.retryable


def test_community_edition_refuses_oauth_users_with_not_supported(rsps, cluster):
    rsps.post(
        _url("/admin/users"), status=500, json=hopsworks_fixture("error_remote_auth_not_supported")
    )

    with pytest.raises(HopsworksNotSupported, match="Remote auth not supported"):
        HopsworksClient(cluster).user_create_oauth(
            client_id="cid", subject="auth0|1", email="a@example.com"
        )


def test_create_oauth_user_sends_everything_in_the_query_string(rsps, cluster):
    rsps.post(_url("/admin/users"), status=201, json=hopsworks_fixture("user_created"))

    user = HopsworksClient(cluster).user_create_oauth(
        client_id="cid",
        subject="auth0|1",
        email="alice@example.com",
        given_name="Alice",
        surname="Anders",
        max_num_projects=5,
    )

    assert (user.id, user.username) == (None, "alice000")
    url = rsps.calls[0].request.url
    for part in [
        "accountType=REMOTE_ACCOUNT_TYPE",
        "type=OAUTH2",
        "clientId=cid",
        "subject=auth0%7C1",
        "email=alice%40example.com",
        "maxNumProjects=5",
    ]:
        assert part in url


def test_user_find_resolves_the_id_by_exact_email(rsps, cluster):
    rsps.get(_url("/admin/user/cid.auth0%7C1"), json=hopsworks_fixture("remote_user"))
    page = hopsworks_fixture("users_page")
    lookalike = {**page["items"][0], "id": 9, "email": "alice@example.com.evil", "username": "x"}
    page["items"].insert(0, lookalike)
    page["count"] = 2
    rsps.get(_url("/admin/users"), json=page)

    user = HopsworksClient(cluster).user_find(
        client_id="cid", subject="auth0|1", email="alice@example.com"
    )

    assert (user.id, user.username, user.uuid) == (10001, "alice000", "CLIENT_ID.SUBJECT")
    assert "filter_by=user_email%3Aalice%40example.com" in rsps.calls[1].request.url


def test_user_find_is_none_when_hopsworks_says_user_not_found(rsps, cluster):
    rsps.get(
        _url("/admin/user/cid.auth0%7C1"),
        status=404,
        json=hopsworks_fixture("error_user_not_found"),
    )

    assert (
        HopsworksClient(cluster).user_find(client_id="cid", subject="auth0|1", email="a@b.c")
        is None
    )


def test_user_find_scans_users_when_the_subject_endpoint_is_missing(rsps, cluster):
    rsps.get(_url("/admin/user/cid.auth0%7C1"), status=404, body="<html>Not Found</html>")
    rsps.get(_url("/admin/users"), json=hopsworks_fixture("users_page"))

    user = HopsworksClient(cluster).user_find(
        client_id="cid", subject="auth0|1", email="ALICE@example.com"
    )

    assert user.id == 10001


def test_users_scan_walks_every_page(rsps, cluster):
    item = hopsworks_fixture("users_page")["items"][0]
    first = [{**item, "id": n, "email": f"u{n}@example.com"} for n in range(100)]
    rsps.get(_url("/admin/users"), json={"count": 101, "items": first})
    rsps.get(_url("/admin/users"), json={"count": 101, "items": [{**item, "id": 100}]})

    users = list(HopsworksClient(cluster).users_scan())

    assert len(users) == 101
    assert "offset=100" in rsps.calls[1].request.url


def test_connection_test_reports_status_latency_and_raw_body(rsps, cluster):
    rsps.get(_url("/admin/users"), json=hopsworks_fixture("users_page"))

    call = HopsworksClient(cluster).connection_test()

    assert call.status_code == 200 and call.latency_ms >= 0
    assert json.loads(call.body)["items"][0]["username"] == "alice000"


def test_connection_test_reports_failures_without_raising(rsps, cluster):
    rsps.get(_url("/admin/users"), status=401, json=hopsworks_fixture("error_unauthorized"))

    call = HopsworksClient(cluster).connection_test()

    assert call.status_code == 401 and "not valid" in call.error


def test_non_json_answer_is_an_error(rsps, cluster):
    rsps.get(_url("/admin/projects"), body="<html>proxy</html>")

    with pytest.raises(HopsworksError, match="not JSON"):
        HopsworksClient(cluster).projects_list()


@pytest.mark.parametrize(
    "base, taken, expected",
    [
        ("alice000", set(), "alice000"),
        ("alice000", {"ALICE000"}, "alice000_2"),
        ("alice000", {"alice000", "alice000_2"}, "alice000_3"),
        ("jean-luc.picard", set(), "jean_luc_picard"),
        ("a__b", set(), "a_b"),
        ("12345", set(), "p12345"),
        ("_x_", set(), "x"),
        ("", set(), "user"),
        ("averyveryverylongusername_indeed", set(), "averyveryverylongusername"),
        ("averyveryverylongusername", {"averyveryverylongusername"}, "averyveryverylonguserna_2"),
    ],
)
def test_project_names_are_valid_and_unique(base, taken, expected):
    name = project_name_for(base=base, taken=taken)
    assert name == expected
    assert len(name) <= 25 and "__" not in name and name[0].isalnum() and name[-1].isalnum()
