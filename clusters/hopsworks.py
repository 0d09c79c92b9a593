"""The one module that talks to Hopsworks (the REST API of one cluster).

Facts about the API are in the project notes (hopsworks-notes.md). Every request is recorded in
`HopsworksClient.calls` (method, path, status, latency, raw body) so the staff panel can show what
happened; the API key never appears there or in logs.

Stopping and resuming work (suspension), checked against logicalclocks/hopsworks (2026-11-25):

- `ServingService` (`/project/{projectId}/serving`): `GET` lists, `POST /{servingId}?action=STOP`
  stops (`ServingCommands`), both `@AllowedProjectRoles` (STOP: DATA_OWNER only) and
  `@ApiKeyRequired(acceptedScopes = SERVING)`. Job executions (`/project/{projectId}/jobs/
  {jobName}/executions`, status `PUT`) are project resources with the same guard.
- `ProjectAuthFilter` (hopsworks-api `api/filter`) looks up the caller's role in the project
  (`projectTeamBean.findCurrentRole`) and answers 403 `NO_ROLE_FOUND` when there is none. There
  is no bypass for `HOPS_ADMIN`: an admin API key may NOT act inside a project it is not a member
  of, and our users' projects are created with `/admin/projects/createas` (owner: the user).
  So deployments and job executions are stopped at the Kubernetes level with the cluster's
  kubeconfig (`clusters/kube.py`): serving deployments in the project's namespace scaled to 0,
  running job pods removed with their Kubernetes Job. Both are recorded so the page can list them.
- Blocking: `UsersAdminResource` `PUT /admin/users/{id}` takes a `Users` entity as JSON;
  `UserProfileBuilder.updateUser` applies a non-null `status` (an audit row on the Hopsworks
  side) and leaves the rest alone. The status is the enum name (`UserAccountStatus`:
  `ACTIVATED_ACCOUNT` = 2, `DEACTIVATED_ACCOUNT` = 3, `BLOCKED_ACCOUNT` = 4); the answer is a
  `UserProfileDTO` whose `status` is the number. `GET /admin/users/{id}` reads one user. Both
  need an ADMIN-scoped key of a HOPS_ADMIN, like the rest of /admin. We read the status back
  after writing, since older servers spelled the body differently.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

logger = logging.getLogger(__name__)

USERS_PAGE_SIZE = 100
# Hard stop on scanning /admin/users so a misbehaving server cannot loop us forever.
USERS_SCAN_MAX_PAGES = 200
PROJECT_NAME_MAX = 25
RAW_BODY_MAX = 20_000


class HopsworksError(Exception):
    """Hopsworks refused or failed. The message is safe to show and log (no secrets)."""

    retryable = False

    def __init__(self, message: str, *, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class HopsworksUnreachable(HopsworksError):
    """Network trouble, timeouts or a 5xx: try again later."""

    retryable = True


class HopsworksUnauthorized(HopsworksError):
    """401/403: the cluster's API key is wrong, expired or lacks the ADMIN scope."""


class HopsworksNotSupported(HopsworksError):
    """This Hopsworks edition or version does not offer the operation (e.g. OAuth users on the
    community edition: "Remote auth not supported")."""


class HopsworksNotFound(HopsworksError):
    pass


class HopsworksConflict(HopsworksError):
    """The thing exists already (user, project)."""


# UserAccountStatus: the number in answers, the enum name in request bodies.
USER_STATUS_NAMES = {
    0: "NEW_MOBILE_ACCOUNT",
    1: "VERIFIED_ACCOUNT",
    2: "ACTIVATED_ACCOUNT",
    3: "DEACTIVATED_ACCOUNT",
    4: "BLOCKED_ACCOUNT",
    5: "LOST_MOBILE",
    6: "SPAM_ACCOUNT",
    7: "TEMP_PASSWORD",
}
USER_ACTIVATED = 2
USER_BLOCKED = 4


# Short names for callers that prefer them.
Unreachable = HopsworksUnreachable
Unauthorized = HopsworksUnauthorized
NotSupported = HopsworksNotSupported
NotFound = HopsworksNotFound
Conflict = HopsworksConflict


@dataclass(frozen=True)
class HopsworksProject:
    id: int | None
    name: str
    creator_email: str
    creator_username: str


@dataclass(frozen=True)
class HopsworksUser:
    id: int | None
    uuid: str
    email: str
    username: str
    given_name: str = ""
    surname: str = ""


@dataclass
class HopsworksCall:
    """One request as the staff panel shows it."""

    method: str
    path: str
    status_code: int | None
    latency_ms: int
    body: str
    error: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def pretty_body(self) -> str:
        try:
            return json.dumps(json.loads(self.body), indent=2, sort_keys=True)
        except ValueError:
            return self.body


def _remote_message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(data, dict):
        for key in ("usrMsg", "errorMsg", "devMsg", "message"):
            if data.get(key):
                return str(data[key])[:300]
    return response.text[:300]


def _message_containing(response: requests.Response, needle: str) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    return next((str(v)[:300] for v in data.values() if needle in str(v).lower()), "")


class HopsworksClient:
    """A `requests.Session` for one cluster. Build one per unit of work: `HopsworksClient(c)`."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.base_url = cluster.hopsworks_url.rstrip("/")
        self.timeout = (settings.HOPSWORKS_CONNECT_TIMEOUT, settings.HOPSWORKS_READ_TIMEOUT)
        self.calls: list[HopsworksCall] = []
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"ApiKey {cluster.api_key}"
        self.session.headers["Accept"] = "application/json"
        retry = Retry(
            total=settings.HOPSWORKS_GET_RETRIES,
            backoff_factor=settings.HOPSWORKS_RETRY_BACKOFF,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET"}),  # only safe reads are retried
            raise_on_status=False,
            # A proxy's "Retry-After: 3600" must not park a worker; the task backs off instead.
            respect_retry_after_header=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    # --- transport -----------------------------------------------------------------------------

    def request(self, method: str, path: str, *, params=None, json_body=None) -> requests.Response:
        """Send one request; record it; map failures to typed errors."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        started = time.monotonic()
        call = HopsworksCall(method, path, None, 0, "", params=dict(params or {}))
        self.calls.append(call)
        if not self.cluster.api_key:
            call.error = "not sent: the cluster has no API key"
            raise HopsworksUnauthorized(f"Cluster {self.cluster.name} has no Hopsworks API key.")
        try:
            response = self.session.request(
                method, url, params=params, json=json_body, timeout=self.timeout
            )
        except requests.RequestException as exc:
            call.latency_ms = int((time.monotonic() - started) * 1000)
            call.error = f"unreachable ({type(exc).__name__})"
            raise HopsworksUnreachable(
                f"Hopsworks at {self.cluster.name} unreachable ({type(exc).__name__})"
            ) from exc
        call.latency_ms = int((time.monotonic() - started) * 1000)
        call.status_code = response.status_code
        call.body = response.text[:RAW_BODY_MAX]
        if response.status_code >= 400:
            call.error = _remote_message(response)
            raise self._error_for(method, path, response)
        return response

    def _error_for(self, method: str, path: str, response: requests.Response) -> HopsworksError:
        status = response.status_code
        message = _remote_message(response)
        text = response.text[:2000].lower()
        where = f"{method} {path} on {self.cluster.name}"
        if "not supported" in text or status in (405, 501):
            message = _message_containing(response, "not supported") or message
            return HopsworksNotSupported(f"{where}: not supported ({message})", status_code=status)
        if status in (401, 403):
            return HopsworksUnauthorized(
                f"{where}: the API key was refused ({status})", status_code=status
            )
        if status == 404:
            return HopsworksNotFound(f"{where}: not found ({message})", status_code=status)
        if status == 409 or (status == 400 and "exist" in text):
            return HopsworksConflict(f"{where}: already exists ({message})", status_code=status)
        if status >= 500 or status == 429:
            return HopsworksUnreachable(f"{where}: server error {status}", status_code=status)
        return HopsworksError(f"{where}: refused ({status}: {message})", status_code=status)

    def get_json(self, path: str, *, params=None) -> Any:
        response = self.request("GET", path, params=params)
        try:
            return response.json()
        except ValueError as exc:
            raise HopsworksError(f"GET {path}: the answer is not JSON") from exc

    # --- connection ---------------------------------------------------------------------------

    def connection_test(self) -> HopsworksCall:
        """One cheap admin read; returns the recorded call (status, latency, raw body) instead
        of raising, so the panel can show a failure as well as a success."""
        try:
            self.request("GET", "/admin/users", params={"offset": 0, "limit": 1})
        except HopsworksError:
            pass
        return self.calls[-1]

    # --- users --------------------------------------------------------------------------------

    def user_create_oauth(
        self,
        *,
        client_id: str,
        subject: str,
        email: str,
        given_name: str = "",
        surname: str = "",
        max_num_projects: int | None = None,
    ) -> HopsworksUser:
        """Create a remote (OAuth2) user. Enterprise edition only; the answer carries no id."""
        params = {
            "accountType": "REMOTE_ACCOUNT_TYPE",
            "type": "OAUTH2",
            "clientId": client_id,
            "subject": subject,
            "email": email,
            "givenName": given_name or email.split("@")[0],
            "surname": surname or "-",
        }
        if max_num_projects is not None:
            params["maxNumProjects"] = max_num_projects
        data = self.request("POST", "/admin/users", params=params).json()
        return _user_from(data)

    def user_by_subject(self, *, client_id: str, subject: str) -> HopsworksUser | None:
        """The remote user `<clientId>.<subject>`, or None. Raises NotSupported when this server
        has no such endpoint (a 404 that is not a Hopsworks error document)."""
        uuid = quote(f"{client_id}.{subject}", safe="")
        try:
            data = self.get_json(f"/admin/user/{uuid}")
        except HopsworksNotFound as exc:
            if self._last_is_hopsworks_error():
                return None
            raise HopsworksNotSupported(str(exc), status_code=404) from exc
        return _user_from(data)

    def _last_is_hopsworks_error(self) -> bool:
        try:
            data = json.loads(self.calls[-1].body)
        except ValueError:
            return False
        return isinstance(data, dict) and "errorCode" in data

    def users_scan(self, *, email_prefix: str = ""):
        """Yield every user of /admin/users page by page (optionally filtered by email prefix,
        which the server matches loosely: compare exactly on our side)."""
        for page in range(USERS_SCAN_MAX_PAGES):
            params: dict[str, Any] = {"offset": page * USERS_PAGE_SIZE, "limit": USERS_PAGE_SIZE}
            if email_prefix:
                params["filter_by"] = f"user_email:{email_prefix}"
            data = self.get_json("/admin/users", params=params)
            items = (data or {}).get("items") or []
            yield from (_user_from(item) for item in items)
            total = (data or {}).get("count")
            seen = (page + 1) * USERS_PAGE_SIZE
            if len(items) < USERS_PAGE_SIZE or (total is not None and seen >= total):
                return

    def user_by_email(self, *, email: str) -> HopsworksUser | None:
        wanted = email.strip().lower()
        for user in self.users_scan(email_prefix=wanted):
            if user.email.lower() == wanted:
                return user
        return None

    def user_find(self, *, client_id: str, subject: str, email: str) -> HopsworksUser | None:
        """The OAuth user for this subject with its numeric id, or None.

        1. Look the remote user up by `<clientId>.<subject>`; when the server lacks that
           endpoint, fall back to scanning users by email.
        2. Resolve the numeric id by exact email match (the subject lookup has no id).
        """
        try:
            remote = self.user_by_subject(client_id=client_id, subject=subject)
        except HopsworksNotSupported:
            return self.user_by_email(email=email)
        if remote is None:
            return None
        resolved = self.user_by_email(email=remote.email or email)
        if resolved is None:
            return remote
        return HopsworksUser(
            id=resolved.id,
            uuid=remote.uuid,
            email=resolved.email,
            username=resolved.username or remote.username,
            given_name=remote.given_name,
            surname=remote.surname,
        )

    def user_status(self, *, user_id: int) -> int:
        """The user's `UserAccountStatus` number (2 activated, 4 blocked ...)."""
        data = self.get_json(f"/admin/users/{int(user_id)}")
        status = data.get("status") if isinstance(data, dict) else None
        if isinstance(status, str) and status in USER_STATUS_NAMES.values():
            return next(k for k, v in USER_STATUS_NAMES.items() if v == status)
        if not isinstance(status, int):
            raise HopsworksError(f"GET /admin/users/{user_id}: no status in the answer.")
        return status

    def user_status_set(self, *, user_id: int, status: int) -> int:
        """Set the user's status (e.g. USER_BLOCKED), then read it back: the number the server
        now holds. Setting the status it already has is harmless, so retries are safe."""
        self.request(
            "PUT", f"/admin/users/{int(user_id)}", json_body={"status": USER_STATUS_NAMES[status]}
        )
        held = self.user_status(user_id=user_id)
        if held != status:
            raise HopsworksError(f"Hopsworks kept user {user_id} at status {held}, not {status}.")
        return held

    # --- projects -----------------------------------------------------------------------------

    def projects_list(self) -> list[HopsworksProject]:
        """Every project on the cluster with its creator (no pagination on the server)."""
        data = self.get_json("/admin/projects", params={"expand": "creator"})
        # An empty list may come without "items"; anything else unexpected is an error, never
        # "no projects" (that would turn every namespace into unattributed usage).
        items = data.get("items", []) if isinstance(data, dict) else data
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise HopsworksError("Hopsworks answered the project list with an unexpected shape.")
        return [_project_from(item) for item in items]

    def projects_of(self, *, email: str = "", username: str = "") -> list[HopsworksProject]:
        email, username = email.lower(), username.lower()
        return [
            p
            for p in self.projects_list()
            if (email and p.creator_email.lower() == email)
            or (username and p.creator_username.lower() == username)
        ]

    def project_create_as(self, *, owner_username: str, name: str) -> None:
        """Create a project owned by another user (empty 200 answer)."""
        self.request(
            "POST",
            "/admin/projects/createas",
            json_body={"owner": owner_username, "projectName": name},
        )


def _user_from(data: dict) -> HopsworksUser:
    raw_id = data.get("id")
    return HopsworksUser(
        id=int(raw_id) if raw_id not in (None, "") else None,
        uuid=str(data.get("uuid") or ""),
        email=str(data.get("email") or ""),
        username=str(data.get("username") or ""),
        given_name=str(data.get("givenName") or data.get("firstname") or ""),
        surname=str(data.get("surname") or data.get("lastname") or ""),
    )


def _project_from(item: dict) -> HopsworksProject:
    if "projectName" in item:  # releases before 2023
        raw_id = item.get("projectId")
        return HopsworksProject(
            id=int(raw_id) if raw_id is not None else None,
            name=str(item["projectName"]),
            creator_email="",
            creator_username=str(item.get("projectOwner") or ""),
        )
    creator = item.get("creator") or {}
    raw_id = item.get("id")
    return HopsworksProject(
        id=int(raw_id) if raw_id is not None else None,
        name=str(item.get("name") or ""),
        creator_email=str(creator.get("email") or ""),
        creator_username=str(creator.get("username") or ""),
    )


def namespace_for(project_name: str) -> str:
    """The Kubernetes namespace of a Hopsworks project: lower-cased, anything outside
    [a-z0-9-] replaced by '-'."""
    return re.sub(r"[^a-z0-9-]", "-", project_name.lower())


def project_name_for(*, base: str, taken: set[str]) -> str:
    """A valid project name from `base` (e.g. the username): at most 25 characters of
    [A-Za-z0-9_], starting and ending alphanumeric, no `__`, not all digits, and not in `taken`
    (compared case-insensitively)."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", base).strip("_") or "user"
    if stem.isdigit() or not stem[0].isalpha():
        stem = f"p{stem}"
    stem = stem[:PROJECT_NAME_MAX].rstrip("_")
    lowered = {t.lower() for t in taken}
    if stem.lower() not in lowered:
        return stem
    for n in range(2, 10_000):
        suffix = f"_{n}"
        candidate = stem[: PROJECT_NAME_MAX - len(suffix)].rstrip("_") + suffix
        if candidate.lower() not in lowered:
            return candidate
    raise HopsworksConflict(f"No free project name for {base!r}")
