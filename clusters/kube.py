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
        self.apps = client.AppsV1Api(self.api_client)
        self.batch = client.BatchV1Api(self.api_client)
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

    # --- stopping work in a namespace (suspension) -------------------------------------------

    def deployments(self, namespace: str) -> list[dict]:
        """The namespace's deployments; none when the namespace does not exist."""
        method = self.apps.list_namespaced_deployment
        return self._list_or_none(method, "deployments", namespace=namespace)

    def namespace_pods(self, namespace: str, *, label_selector: str = "") -> list[dict]:
        """The namespace's pods (optionally by label); none when the namespace does not exist."""
        method = self.core.list_namespaced_pod
        return self._list_or_none(
            method, "pods", namespace=namespace, label_selector=label_selector
        )

    def _list_or_none(self, method, what: str, **extra) -> list[dict]:
        try:
            return list(self._list(method, what, **extra))
        except BadResponse as exc:
            if exc.status == 404:
                return []
            raise

    def deployment_scale(self, namespace: str, name: str, replicas: int) -> None:
        body = {"spec": {"replicas": replicas}}
        self._write(
            f"deployment {namespace}/{name}",
            self.apps.patch_namespaced_deployment_scale,
            name=name,
            namespace=namespace,
            body=body,
        )

    def job_delete(self, namespace: str, name: str) -> bool:
        """Delete a Kubernetes Job and its pods; False when it is gone already."""
        return self._delete(
            f"job {namespace}/{name}",
            self.batch.delete_namespaced_job,
            name=name,
            namespace=namespace,
            propagation_policy="Background",
        )

    def pod_delete(self, namespace: str, name: str) -> bool:
        """Delete a pod; False when it is gone already."""
        method = self.core.delete_namespaced_pod
        return self._delete(f"pod {namespace}/{name}", method, name=name, namespace=namespace)

    def _write(self, what: str, method, **kwargs) -> None:
        def call():
            raw = method(_preload_content=False, _request_timeout=self.timeout, **kwargs)
            raw.release_conn()

        self._call(what, call)

    def _delete(self, what: str, method, **kwargs) -> bool:
        try:
            self._write(what, method, **kwargs)
        except BadResponse as exc:
            if exc.status == 404:
                return False
            raise
        return True

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

    def _list(self, method, what: str, **extra) -> Iterator[dict]:
        token = None
        while True:
            kwargs = {"limit": self.page_size, **{k: v for k, v in extra.items() if v}}
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
