"""The one module that talks to Kubernetes.

A client per cluster, built from that cluster's kubeconfig (never the process-wide default
configuration). Lists are paginated (`limit` + `continue`) and yield plain dicts parsed from the
wire JSON: the `kubernetes` model classes are skipped on purpose, since deserialising 20,000 pods
into them costs far more than the rest of a collection. Errors come out typed:
`Unreachable`, `Unauthorized`, `BadResponse` (all `KubeError`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import urllib3
import yaml
from django.conf import settings
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException


class KubeError(Exception):
    """Any failure talking to a cluster's Kubernetes API (`status`: the HTTP status, if any)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotConfigured(KubeError):
    pass


class Unreachable(KubeError):
    pass


class Unauthorized(KubeError):
    pass


class BadResponse(KubeError):
    pass


class KubeClient:
    """Use as a context manager so the connection pool is closed."""

    def __init__(self, cluster) -> None:
        self.api_client = _api_client(cluster.kubeconfig)
        self.core = client.CoreV1Api(self.api_client)
        self.timeout = settings.KUBE_REQUEST_TIMEOUT
        self.page_size = settings.KUBE_PAGE_SIZE

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.api_client.close()

    def pods(self) -> Iterator[dict]:
        """Every pod of the cluster, page by page."""
        return self._list(self.core.list_pod_for_all_namespaces, "pods")

    def namespaces(self) -> Iterator[dict]:
        return self._list(self.core.list_namespace, "namespaces")

    def nodes(self) -> Iterator[dict]:
        return self._list(self.core.list_node, "nodes")

    def proxy_get(self, path: str, query: list[tuple[str, str]]) -> dict:
        """GET a path of the API server (e.g. a service proxy) whose answer is a JSON object."""
        request = self.api_client.param_serialize(
            method="GET",
            resource_path=path,
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )

        def call():
            response = self.api_client.call_api(*request, _request_timeout=self.timeout)
            data = response.read()
            if not 200 <= response.status <= 299:
                raise ApiException.from_response(http_resp=response, body=None, data=None)
            return data

        return _json(path, self._call(path, call))

    def _list(self, method, what: str) -> Iterator[dict]:
        token = None
        while True:
            kwargs = {"limit": self.page_size}
            if token:
                kwargs["_continue"] = token

            def call(kwargs=kwargs):
                raw = method(_preload_content=False, _request_timeout=self.timeout, **kwargs)
                try:
                    return raw.data
                finally:
                    raw.release_conn()

            body = _json(what, self._call(what, call))
            items = body.get("items")
            if not isinstance(items, list):
                raise BadResponse(f"{what}: the list has no items")
            yield from items
            token = (body.get("metadata") or {}).get("continue")
            if not token:
                return

    def _call(self, what: str, call):
        try:
            return call()
        except ApiException as exc:
            if exc.status in (401, 403):
                raise Unauthorized(f"{what}: HTTP {exc.status} {exc.reason}", exc.status) from exc
            if exc.status == 0:
                raise Unreachable(f"{what}: {exc.reason}") from exc
            raise BadResponse(f"{what}: HTTP {exc.status} {exc.reason}", exc.status) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unreachable(f"{what}: {type(exc).__name__}") from exc


def _json(path: str, data: bytes) -> dict:
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise BadResponse(f"{path}: the answer is not JSON") from exc
    if not isinstance(body, dict):
        raise BadResponse(f"{path}: the answer is not a JSON object")
    return body


def _api_client(kubeconfig: str) -> client.ApiClient:
    if not kubeconfig:
        raise NotConfigured("No kubeconfig is stored for this cluster.")
    try:
        config_dict = yaml.safe_load(kubeconfig)
        configuration = client.Configuration()
        config.load_kube_config_from_dict(
            config_dict, client_configuration=configuration, persist_config=False
        )
    except (yaml.YAMLError, ConfigException, TypeError, AttributeError, KeyError) as exc:
        raise NotConfigured(f"The stored kubeconfig is unusable: {type(exc).__name__}") from exc
    # One retry on a dropped connection, not urllib3's default three (a hung server would
    # otherwise hold a run for four timeouts).
    configuration.retries = 1
    return client.ApiClient(configuration)
