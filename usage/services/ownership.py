"""Who owns what: namespaces to Hopsworks projects to our users.

A project's namespace carries the label `hopsworks.ai/project=<project name>`; without it the
namespace is the project name lower-cased with every character outside [a-z0-9-] turned into
`-`. A project belongs to its creator, matched to a user by email, else by Hopsworks username
(among this cluster's users). Namespaces that are no project are ignored; project namespaces
whose owner we do not know are kept with `user_id=None` (unattributed).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Q

from clusters.hopsworks import HopsworksClient, HopsworksError, HopsworksProject, namespace_for
from clusters.kube import KubeClient, KubeError
from clusters.models import Cluster

PROJECT_LABEL = "hopsworks.ai/project"


@dataclass(frozen=True)
class ProjectOwner:
    project: str
    user_id: int | None


def namespace_of_project(name: str) -> str:
    return namespace_for(name)


def ownership_resolve(
    *, cluster: Cluster, namespaces: list[dict], projects: list[HopsworksProject]
) -> dict[str, ProjectOwner]:
    """namespace -> (project, owner) for every project namespace of the cluster."""
    by_name = {p.name: p for p in projects}
    by_namespace = {namespace_of_project(p.name): p for p in projects}
    found: dict[str, HopsworksProject | str] = {}
    for ns in namespaces:
        meta = ns.get("metadata") or {}
        name = meta.get("name") or ""
        label = (meta.get("labels") or {}).get(PROJECT_LABEL)
        if label:
            known = by_name.get(label) or by_namespace.get(namespace_of_project(label))
            found[name] = known or label
        elif name in by_namespace:
            found[name] = by_namespace[name]
    users = _users_by_creator(cluster, [p for p in found.values() if not isinstance(p, str)])
    owners = {}
    for namespace, project in found.items():
        if isinstance(project, str):
            owners[namespace] = ProjectOwner(project=project, user_id=None)
        else:
            owners[namespace] = ProjectOwner(project=project.name, user_id=users.get(project))
    return owners


def _users_by_creator(
    cluster: Cluster, projects: list[HopsworksProject]
) -> dict[HopsworksProject, int]:
    emails = {p.creator_email.lower() for p in projects if p.creator_email}
    usernames = {p.creator_username for p in projects if p.creator_username}
    rows = (
        get_user_model()
        .objects.filter(Q(email__in=emails) | Q(hopsworks_username__in=usernames, cluster=cluster))
        .values_list("pk", "email", "hopsworks_username", "cluster_id")
    )
    by_email = {email.lower(): pk for pk, email, _, _ in rows}
    by_username = {u: pk for pk, _, u, cid in rows if u and cid == cluster.pk}
    matched = {}
    for project in projects:
        pk = by_email.get(project.creator_email.lower()) or by_username.get(
            project.creator_username
        )
        if pk:
            matched[project] = pk
    return matched


class OwnersUnknown(Exception):
    """The namespaces or the project list could not be read: ownership is unknown."""


def owners_of_cluster(*, cluster: Cluster, kube: KubeClient) -> dict[str, ProjectOwner]:
    """namespace -> owner, read from the cluster's namespaces and Hopsworks' project list."""
    try:
        namespaces = list(kube.namespaces())
    except KubeError as exc:
        raise OwnersUnknown(f"namespace list failed: {exc}") from exc
    try:
        projects = HopsworksClient(cluster).projects_list()
    except HopsworksError as exc:
        raise OwnersUnknown(f"Hopsworks project list failed: {exc}") from exc
    return ownership_resolve(cluster=cluster, namespaces=namespaces, projects=projects)
