"""A small fake Kubernetes API server on loopback, reached by the real `kubernetes` client.

It serves /api/v1/namespaces, /api/v1/pods and /api/v1/nodes as real-shaped JSON (objects
built with the `kubernetes` package's own models), honours `limit` and `continue`, answers
WebHDFS GETCONTENTSUMMARY under a service proxy path, and fails on demand: an HTTP status on
page N of a list, 401 for a wrong token, garbage JSON, or a hang.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import yaml
from kubernetes import client

_SERIALIZER = client.ApiClient()
PROXY_PREFIX = "/api/v1/namespaces/hops-system/services/namenode:50070/proxy"


def to_json(model) -> dict:
    return _SERIALIZER.sanitize_for_serialization(model)


def namespace(name: str, labels: dict | None = None) -> dict:
    return to_json(
        client.V1Namespace(
            api_version="v1",
            kind="Namespace",
            metadata=client.V1ObjectMeta(name=name, uid=f"ns-{name}", labels=labels),
            status=client.V1NamespaceStatus(phase="Active"),
        )
    )


def node(name: str, instance_type: str | None) -> dict:
    labels = {"kubernetes.io/hostname": name}
    if instance_type:
        labels["node.kubernetes.io/instance-type"] = instance_type
    return to_json(
        client.V1Node(
            api_version="v1", kind="Node", metadata=client.V1ObjectMeta(name=name, labels=labels)
        )
    )


def container(name: str = "main", requests: dict | None = None, limits: dict | None = None):
    return client.V1Container(
        name=name,
        image="docker.io/library/python:3.11",
        resources=client.V1ResourceRequirements(requests=requests, limits=limits),
    )


def pod(
    name: str,
    ns: str,
    *,
    uid: str | None = None,
    node_name: str | None = "node-a",
    phase: str = "Running",
    started: datetime | None = None,
    finished: list[datetime] | None = None,
    containers: list | None = None,
    init_containers: list | None = None,
    labels: dict | None = None,
) -> dict:
    """A pod; `finished` gives each app container's finishedAt (terminated state)."""
    containers = containers or [container(requests={"cpu": "1", "memory": "1Gi"})]
    statuses = []
    for index, spec in enumerate(containers):
        finish = (finished or [None] * len(containers))[index] if finished else None
        state = (
            client.V1ContainerState(
                terminated=client.V1ContainerStateTerminated(
                    exit_code=0, started_at=started, finished_at=finish, reason="Completed"
                )
            )
            if finish
            else client.V1ContainerState(running=client.V1ContainerStateRunning(started_at=started))
        )
        statuses.append(
            client.V1ContainerStatus(
                name=spec.name,
                ready=phase == "Running",
                restart_count=0,
                image=spec.image,
                image_id=f"docker.io/library/python@sha256:{index:064d}",
                state=state,
            )
        )
    return to_json(
        client.V1Pod(
            api_version="v1",
            kind="Pod",
            metadata=client.V1ObjectMeta(
                name=name, namespace=ns, uid=uid or f"uid-{ns}-{name}", labels=labels
            ),
            spec=client.V1PodSpec(
                containers=containers, init_containers=init_containers, node_name=node_name
            ),
            status=client.V1PodStatus(
                phase=phase,
                start_time=started,
                container_statuses=statuses if phase != "Pending" else None,
            ),
        )
    )


def deployment(name: str, ns: str, *, replicas: int = 1, labels: dict | None = None) -> dict:
    """A Deployment as a serving's predictor (KServe raw mode) looks in a project namespace."""
    return to_json(
        client.V1Deployment(
            api_version="apps/v1",
            kind="Deployment",
            metadata=client.V1ObjectMeta(
                name=name, namespace=ns, uid=f"uid-{ns}-{name}", labels=labels or {}
            ),
            spec=client.V1DeploymentSpec(
                replicas=replicas,
                selector=client.V1LabelSelector(match_labels={"app": name}),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels={"app": name}),
                    spec=client.V1PodSpec(containers=[container()]),
                ),
            ),
            status=client.V1DeploymentStatus(replicas=replicas, ready_replicas=replicas),
        )
    )


@dataclass
class Failure:
    """Fail the `page`-th request (1-based) of a list, or every request when page is None."""

    status: int = 500
    page: int | None = None
    garbage: bool = False
    hang: float = 0.0


@dataclass
class FakeKube:
    token: str = "fake-token"
    namespaces: list[dict] = field(default_factory=list)
    pods: list[dict] = field(default_factory=list)
    nodes: list[dict] = field(default_factory=list)
    hdfs: dict[str, int] = field(default_factory=dict)  # HDFS path -> bytes
    failures: dict[str, Failure] = field(default_factory=dict)  # "pods" | "namespaces" | ...
    requests: list[tuple[str, dict]] = field(default_factory=list)
    delay: float = 0.0  # seconds before answering any list request
    deployments: list[dict] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)  # "namespace/name" of Kubernetes Jobs
    writes: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    _server: ThreadingHTTPServer | None = None

    def replicas(self) -> dict[str, int]:
        """Each deployment's replicas, by name, as the cluster has them now."""
        return {d["metadata"]["name"]: d["spec"]["replicas"] for d in self.deployments}

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> FakeKube:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like an API server
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def do_GET(self):  # noqa: N802 (http.server's name)
                fake._handle(self)

            def do_PATCH(self):  # noqa: N802
                fake._handle_write(self, "PATCH")

            def do_DELETE(self):  # noqa: N802
                fake._handle_write(self, "DELETE")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def kubeconfig(self, token: str | None = None) -> str:
        return yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                "users": [{"name": "fake", "user": {"token": token or self.token}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                "current-context": "fake",
            }
        )

    def list_requests(self, what: str) -> list[dict]:
        return [query for path, query in self.requests if path == f"/api/v1/{what}"]

    # --- serving -------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.requests.append((parts.path, query))
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            return _send(handler, 401, _status(401, "Unauthorized"))
        if parts.path.startswith(PROXY_PREFIX + "/webhdfs/v1"):
            return self._webhdfs(handler, parts.path[len(PROXY_PREFIX + "/webhdfs/v1") :], query)
        if "/namespaces/" in parts.path and parts.path.endswith(("/deployments", "/pods")):
            return self._namespaced_list(handler, parts.path, query)
        what = parts.path.removeprefix("/api/v1/")
        if what not in ("pods", "namespaces", "nodes"):
            return _send(handler, 404, _status(404, "NotFound"))
        if self.delay:
            time.sleep(self.delay)
        page = self._page_number(what)
        failure = self.failures.get(what)
        if failure and failure.page in (None, page):
            if failure.hang:
                time.sleep(failure.hang)
            if failure.garbage:
                return _send_raw(handler, 200, b'{"kind": "PodList", "items": [{"meta')
            return _send(handler, failure.status, _status(failure.status, "InternalError"))
        return self._list(handler, what, query)

    def _page_number(self, what: str) -> int:
        """1 for a first page, then counting the pages of the same listing."""
        page = 0
        for path, query in reversed(self.requests):
            if path == f"/api/v1/{what}":
                page += 1
                if "continue" not in query:
                    break
        return page

    def _list(self, handler, what: str, query: dict) -> None:
        items = getattr(self, what)
        offset = (
            int(base64.urlsafe_b64decode(query["continue"]).decode())
            if query.get("continue")
            else 0
        )
        limit = int(query.get("limit") or 0) or len(items) or 1
        page = items[offset : offset + limit]
        following = offset + limit
        metadata = {"resourceVersion": "1"}
        if following < len(items):
            metadata["continue"] = base64.urlsafe_b64encode(str(following).encode()).decode()
        kind = {"pods": "PodList", "namespaces": "NamespaceList", "nodes": "NodeList"}[what]
        _send(handler, 200, {"kind": kind, "apiVersion": "v1", "metadata": metadata, "items": page})

    def _namespaced_list(self, handler, path: str, query: dict) -> None:
        failure = self.failures.get("namespaced")
        if failure:
            return _send(handler, failure.status, _status(failure.status, "InternalError"))
        ns, what = path.split("/namespaces/", 1)[1].split("/", 1)
        if ns not in {n["metadata"]["name"] for n in self.namespaces}:
            return _send(handler, 404, _status(404, "NotFound"))
        items = [
            item
            for item in (self.deployments if what == "deployments" else self.pods)
            if item["metadata"]["namespace"] == ns
            and _selected(item["metadata"].get("labels") or {}, query.get("labelSelector", ""))
        ]
        kind = "DeploymentList" if what == "deployments" else "PodList"
        body = {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"}}
        _send(handler, 200, {**body, "items": items})

    def _handle_write(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = urlsplit(handler.path).path
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"{}")
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            return _send(handler, 401, _status(401, "Unauthorized"))
        failure = self.failures.get("writes")
        if failure:
            return _send(handler, failure.status, _status(failure.status, "InternalError"))
        self.writes.append((method, path))
        ns, rest = path.split("/namespaces/", 1)[1].split("/", 1)
        kind, name = rest.split("/")[:2]
        if method == "PATCH" and kind == "deployments":
            return self._scale(handler, ns, name, body)
        if method == "DELETE" and kind == "jobs" and f"{ns}/{name}" in self.jobs:
            self.jobs.remove(f"{ns}/{name}")
            self.pods = [
                p
                for p in self.pods
                if not (
                    p["metadata"]["namespace"] == ns
                    and (p["metadata"].get("labels") or {}).get("job-name") == name
                )
            ]
            return _send(handler, 200, {"kind": "Status", "status": "Success"})
        if method == "DELETE" and kind == "pods":
            before = len(self.pods)
            self.pods = [
                p
                for p in self.pods
                if (p["metadata"]["namespace"], p["metadata"]["name"]) != (ns, name)
            ]
            if len(self.pods) < before:
                return _send(handler, 200, {"kind": "Status", "status": "Success"})
        _send(handler, 404, _status(404, "NotFound"))

    def _scale(self, handler, ns: str, name: str, body: dict) -> None:
        for item in self.deployments:
            if (item["metadata"]["namespace"], item["metadata"]["name"]) == (ns, name):
                item["spec"]["replicas"] = body["spec"]["replicas"]
                scale = {"kind": "Scale", "apiVersion": "autoscaling/v1"}
                meta = {"name": name, "namespace": ns}
                return _send(handler, 200, {**scale, "metadata": meta, "spec": body["spec"]})
        _send(handler, 404, _status(404, "NotFound"))

    def _webhdfs(self, handler, path: str, query: dict) -> None:
        if query.get("op") != "GETCONTENTSUMMARY":
            return _send(handler, 400, {"RemoteException": {"exception": "IllegalArgument"}})
        failure = self.failures.get("webhdfs")
        if failure:
            return _send(handler, failure.status, _status(failure.status, "ServiceUnavailable"))
        if path not in self.hdfs:
            return _send(
                handler,
                404,
                {"RemoteException": {"exception": "FileNotFoundException", "message": path}},
            )
        length = self.hdfs[path]
        summary = {"directoryCount": 1, "fileCount": 1, "length": length, "quota": -1}
        _send(handler, 200, {"ContentSummary": summary | {"spaceConsumed": 3 * length}})


def _selected(labels: dict, selector: str) -> bool:
    """Equality (`k=v`) and existence (`k`) terms, comma-separated, as the API server reads
    them."""
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if key not in labels or (value and labels[key] != value):
            return False
    return True


def _status(code: int, reason: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": reason,
        "code": code,
    }


def _send(handler, code: int, body: dict) -> None:
    _send_raw(handler, code, json.dumps(body).encode())


def _send_raw(handler, code: int, data: bytes) -> None:
    try:
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
