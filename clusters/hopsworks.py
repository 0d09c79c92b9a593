"""The one module that talks to a cluster's Hopsworks REST API.

MINIMAL version written for usage metering (projects_list only); the provisioning work carries
the full client with the same signatures.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from django.conf import settings


class HopsworksError(Exception):
    """Hopsworks could not be reached or answered something we cannot use."""


@dataclass(frozen=True)
class HopsworksProject:
    id: int | None
    name: str
    creator_email: str
    creator_username: str


class HopsworksClient:
    def __init__(self, cluster) -> None:
        self.base = cluster.hopsworks_url.rstrip("/")
        self.api_key = cluster.api_key

    def _get(self, path: str, params=None) -> dict:
        if not self.api_key:
            raise HopsworksError("No Hopsworks API key is configured for this cluster.")
        try:
            response = requests.get(
                f"{self.base}{path}",
                params=params,
                headers={"Authorization": f"ApiKey {self.api_key}"},
                timeout=(settings.HOPSWORKS_CONNECT_TIMEOUT, settings.HOPSWORKS_READ_TIMEOUT),
            )
        except requests.RequestException as exc:
            raise HopsworksError(f"Hopsworks unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise HopsworksError(f"Hopsworks answered {response.status_code} for GET {path}")
        try:
            return response.json()
        except ValueError as exc:
            raise HopsworksError(f"Hopsworks answered invalid JSON for GET {path}") from exc

    def projects_list(self) -> list[HopsworksProject]:
        """Every project with its creator (GET /admin/projects?expand=creator). Accepts the
        2023+ shape (`name`, `creator{email,username}`) and the older one (`projectName`,
        `projectOwner`)."""
        body = self._get("/admin/projects", params={"expand": "creator"})
        if not isinstance(body, dict) or not isinstance(body.get("items", []), list):
            raise HopsworksError("Hopsworks answered an unexpected project list.")
        items = body.get("items") or []  # an empty list comes without `items`
        return [_project(item) for item in items if isinstance(item, dict)]


def _project(item: dict) -> HopsworksProject:
    creator = item.get("creator") if isinstance(item.get("creator"), dict) else {}
    raw_id = item.get("id", item.get("projectId"))
    return HopsworksProject(
        id=int(raw_id) if isinstance(raw_id, int | str) and str(raw_id).isdigit() else None,
        name=str(item.get("name") or item.get("projectName") or ""),
        creator_email=str(creator.get("email") or ""),
        creator_username=str(creator.get("username") or item.get("projectOwner") or ""),
    )
