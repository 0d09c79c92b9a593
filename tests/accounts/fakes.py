"""A stateful fake of Hopsworks at the HTTP boundary (`responses` callbacks), and the
`stripe_fake` fixture that puts the one Stripe fake (tests/stripe_fakes.py) beside it.

They answer with the real-shaped payloads under tests/fixtures/hopsworks/ and Stripe's own
example objects, and remember what was created so tests can
count duplicates. Import the fixtures (`hopsworks`, `stripe_fake`, `cluster`) into a module or
conftest to use them.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
import responses

from clusters.models import Cluster
from tests.fakes.routes import routes_register
from tests.stripe_fakes import API, FakeStripe

HOPSWORKS_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hopsworks"
HOPSWORKS_URL = "https://hopsworks.test/hopsworks-api/api"
API_KEY = "hw-api-key-secret-123"
CLIENT_ID = "auth0-client-abc"


USER_STATUS_BY_NAME = {
    "NEW_MOBILE_ACCOUNT": 0,
    "VERIFIED_ACCOUNT": 1,
    "ACTIVATED_ACCOUNT": 2,
    "DEACTIVATED_ACCOUNT": 3,
    "BLOCKED_ACCOUNT": 4,
}


def hopsworks_fixture(name: str):
    return json.loads((HOPSWORKS_FIXTURES / f"{name}.json").read_text())


def _json(status: int, body) -> tuple[int, dict, str]:
    return status, {"Content-Type": "application/json"}, json.dumps(body)


class FakeHopsworks:
    """An enterprise (or community) Hopsworks with users and projects held in memory."""

    def __init__(self, rsps: responses.RequestsMock, base: str = HOPSWORKS_URL):
        self.base = base
        self.edition = "enterprise"
        self.down = False
        self.subject_endpoint = True
        # "METHOD /path" whose request is carried out but whose answer never arrives.
        self.lose_answer_of: set[str] = set()
        self.users: list[dict] = []
        self.projects: list[dict] = []
        self.user_creates = 0
        self.status_changes: list[tuple[int, int]] = []
        # ("METHOD /path", n): the n-th such request kills the process (SystemExit), as a
        # worker killed mid-run would stop.
        self.crash_at: tuple[str, int] | None = None
        self.seen: dict[str, int] = {}
        self.project_creates = 0
        routes_register(
            rsps,
            base=base,
            routes=[
                ("GET", r"/admin/user/(?P<uuid>[^/?]+)", self._get_remote_user),
                ("GET", r"/admin/users/(?P<id>\d+)", self._get_user),
                ("PUT", r"/admin/users/(?P<id>\d+)", self._update_user),
                ("GET", r"/admin/users", self._list_users),
                ("POST", r"/admin/users", self._create_user),
                ("GET", r"/admin/projects", self._list_projects),
                ("POST", r"/admin/projects/createas", self._create_project),
            ],
            wrap=self._wrap,
        )

    def _wrap(self, method, handler):
        def callback(request):
            if self.down:
                raise requests.ConnectionError("Hopsworks is down")
            if request.headers.get("Authorization") != f"ApiKey {API_KEY}":
                return _json(401, hopsworks_fixture("error_unauthorized"))
            path = urlsplit(request.url).path[len(urlsplit(self.base).path) :]
            self.seen[f"{method} {path}"] = self.seen.get(f"{method} {path}", 0) + 1
            if self.crash_at and self.seen[f"{method} {path}"] == self.crash_at[1]:
                if f"{method} {path}" == self.crash_at[0]:
                    raise SystemExit("worker killed")
            answer = handler(request, path)
            route = "/admin/user" if path.startswith("/admin/user/") else path
            if f"{method} {route}" in self.lose_answer_of:
                raise requests.ReadTimeout("the answer was lost")
            return answer

        return callback

    def add_user(self, *, email: str, username: str, uuid: str = "", user_id: int | None = None):
        item = copy.deepcopy(hopsworks_fixture("users_page")["items"][0])
        item.update(
            id=user_id or 10001 + len(self.users), email=email, username=username, uuid=uuid
        )
        self.users.append(item)
        return item

    def add_project(self, *, name: str, creator: dict, legacy: bool = False):
        item = copy.deepcopy(hopsworks_fixture("projects")["items"][0])
        item.update(id=119 + len(self.projects), name=name)
        item["creator"].update(email=creator["email"], username=creator["username"])
        self.projects.append(item)
        return item

    # --- handlers -------------------------------------------------------------------------------

    def _get_remote_user(self, request, path):
        if not self.subject_endpoint:
            return 404, {"Content-Type": "text/html"}, "<html>Not Found</html>"
        uuid = unquote(path.rsplit("/", 1)[1])
        for user in self.users:
            if user.get("uuid") == uuid:
                body = hopsworks_fixture("remote_user")
                body.update(uuid=uuid, email=user["email"])
                return _json(200, body)
        return _json(404, hopsworks_fixture("error_user_not_found"))

    def _list_users(self, request, path):
        query = parse_qs(urlsplit(request.url).query)
        offset = int(query.get("offset", ["0"])[0])
        limit = int(query.get("limit", ["100"])[0])
        users = self.users
        for f in query.get("filter_by", []):
            if f.startswith("user_email:"):
                prefix = f.split(":", 1)[1].upper()
                users = [u for u in users if u["email"].upper().startswith(prefix)]
        page = users[offset : offset + limit]
        return _json(200, {"href": f"{self.base}/admin/users", "count": len(users), "items": page})

    def _user(self, path: str) -> dict | None:
        wanted = int(path.rsplit("/", 1)[1])
        return next((u for u in self.users if u["id"] == wanted), None)

    def _get_user(self, request, path):
        user = self._user(path)
        if user is None:
            return _json(404, hopsworks_fixture("error_user_not_found"))
        return _json(200, user)

    def _update_user(self, request, path):
        """`UserProfileBuilder.updateUser`: a Users entity whose non-null status is applied
        (sent as the enum name); the answer is the profile with the status as a number."""
        user = self._user(path)
        if user is None:
            return _json(404, hopsworks_fixture("error_user_not_found"))
        body = json.loads(request.body or b"{}")
        if body.get("status") is not None:
            user["status"] = USER_STATUS_BY_NAME[body["status"]]
            self.status_changes.append((user["id"], user["status"]))
        return _json(200, user)

    def _create_user(self, request, path):
        if self.edition == "community":
            return _json(500, hopsworks_fixture("error_remote_auth_not_supported"))
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        assert query["accountType"] == "REMOTE_ACCOUNT_TYPE" and query["type"] == "OAUTH2"
        if any(u["email"].lower() == query["email"].lower() for u in self.users):
            return _json(409, hopsworks_fixture("error_user_exists"))
        self.user_creates += 1
        username = re.sub(r"[^a-z]", "", query["email"].split("@")[0])[:5].ljust(5, "0") + "000"
        uuid = f"{query['clientId']}.{query['subject']}"
        self.add_user(email=query["email"], username=username, uuid=uuid)
        body = hopsworks_fixture("user_created")
        body.update(uuid=uuid, email=query["email"], username=username)
        return _json(201, body)

    def _list_projects(self, request, path):
        body = {"href": f"{self.base}/admin/projects", "count": len(self.projects)}
        return _json(200, {**body, "items": self.projects})

    def _create_project(self, request, path):
        data = json.loads(request.body)
        if any(p["name"].lower() == data["projectName"].lower() for p in self.projects):
            return _json(409, hopsworks_fixture("error_project_exists"))
        owner = next(u for u in self.users if u["username"] == data["owner"])
        self.project_creates += 1
        self.add_project(name=data["projectName"], creator=owner)
        return 200, {}, ""


def assert_one_of_everything(hopsworks: FakeHopsworks, stripe_fake: FakeStripe) -> None:
    """A signup's provisioning, however often it was retried, made one of each thing."""
    assert hopsworks.user_creates == 1 and len(hopsworks.users) == 1
    assert hopsworks.project_creates == 1
    assert len(stripe_fake.customers) == 1 and len(stripe_fake.subscriptions) == 1


@pytest.fixture
def fake_http():
    """`responses` active for the test; unmatched requests fail loudly."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def hopsworks(fake_http, settings) -> FakeHopsworks:
    settings.HOPSWORKS_RETRY_BACKOFF = 0
    return FakeHopsworks(fake_http)


@pytest.fixture
def stripe_fake(fake_http, settings) -> FakeStripe:
    """The stateful Stripe fake (tests/stripe_fakes.py) on the same `responses` mock as
    Hopsworks, so one test sees both."""
    settings.STRIPE_SECRET_KEY = FakeStripe.SECRET_KEY
    settings.STRIPE_API_BASE = API
    return FakeStripe(fake_http)


@pytest.fixture
def cluster(db) -> Cluster:
    return Cluster.objects.create(
        name="c1",
        region="eu-north-1",
        hopsworks_url=HOPSWORKS_URL,
        api_key=API_KEY,
        kubeconfig="apiVersion: v1\nkind: Config\n",
        auth0_client_id=CLIENT_ID,
        capacity=10,
    )
