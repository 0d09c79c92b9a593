"""Who owns what: Hopsworks' project list (faked with `responses`) and namespace mapping."""

from __future__ import annotations

import pytest
import requests
import responses

from clusters.hopsworks import HopsworksClient, HopsworksError, HopsworksProject
from clusters.models import Cluster
from tests.fakes.kube_server import namespace
from usage.services.ownership import ProjectOwner, namespace_of_project, ownership_resolve

URL = "https://hw.test/hopsworks-api/api"


@pytest.fixture
def hw_cluster(db) -> Cluster:
    return Cluster.objects.create(name="hw", hopsworks_url=URL, api_key="secret-key")


@responses.activate
def test_projects_list_reads_the_current_and_the_older_shape(hw_cluster):
    responses.get(
        f"{URL}/admin/projects",
        json={
            "count": 2,
            "items": [
                {"id": 119, "name": "alpha", "creator": {"email": "a@x.com", "username": "a000"}},
                {"projectId": 7, "projectName": "old_one", "projectOwner": "b000"},
            ],
        },
    )
    projects = HopsworksClient(hw_cluster).projects_list()
    assert projects == [
        HopsworksProject(id=119, name="alpha", creator_email="a@x.com", creator_username="a000"),
        HopsworksProject(id=7, name="old_one", creator_email="", creator_username="b000"),
    ]
    request = responses.calls[0].request
    assert request.headers["Authorization"] == "ApiKey secret-key"
    assert "expand=creator" in request.url


@responses.activate
def test_an_empty_project_list_has_no_items_key(hw_cluster):
    responses.get(f"{URL}/admin/projects", json={"href": f"{URL}/admin/projects", "count": 0})
    assert HopsworksClient(hw_cluster).projects_list() == []


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 500, "json": {"errorMsg": "boom"}},
        {"status": 200, "body": "<html>login</html>"},
        {"status": 200, "json": {"items": "nope"}},
        {"body": requests.ConnectionError("refused")},
    ],
)
@responses.activate
def test_failures_are_a_hopsworks_error(hw_cluster, answer):
    responses.get(f"{URL}/admin/projects", **answer)
    with pytest.raises(HopsworksError):
        HopsworksClient(hw_cluster).projects_list()


def test_a_cluster_without_api_key_is_a_hopsworks_error(db):
    cluster = Cluster(name="nokey", hopsworks_url=URL)
    with pytest.raises(HopsworksError, match="API key"):
        HopsworksClient(cluster).projects_list()


def test_namespace_of_a_project_is_lower_cased_with_dashes():
    assert namespace_of_project("Fraud_Detection2") == "fraud-detection2"


def test_namespaces_map_to_owners_by_label_name_email_and_username(
    hw_cluster, owner, teammate, outsider
):
    teammate.cluster, teammate.hopsworks_username = hw_cluster, "tm1"
    teammate.save()
    outsider.hopsworks_username = "out1"  # same username, but on another cluster
    outsider.save()
    projects = [
        HopsworksProject(1, "alpha", "OWNER@example.com", "zzz"),
        HopsworksProject(2, "Beta_Proj", "", "tm1"),
        HopsworksProject(3, "gamma", "", "out1"),
    ]
    namespaces = [
        namespace("kube-system"),
        namespace("custom-ns", {"hopsworks.ai/project": "alpha"}),
        namespace("beta-proj"),
        namespace("gamma"),
        namespace("deleted", {"hopsworks.ai/project": "deleted"}),
    ]
    owners = ownership_resolve(cluster=hw_cluster, namespaces=namespaces, projects=projects)
    assert owners == {
        "custom-ns": ProjectOwner("alpha", owner.pk),
        "beta-proj": ProjectOwner("Beta_Proj", teammate.pk),
        "gamma": ProjectOwner("gamma", None),
        "deleted": ProjectOwner("deleted", None),
    }
