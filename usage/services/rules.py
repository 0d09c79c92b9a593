"""The accounting rules: the one place that says how a pod becomes billable quantities.

1. Effective request of a pod, per resource (CPU cores, memory, GPUs):
   max(sum over the app containers, max over the init containers). A container without a
   request for a resource uses its limit; with neither it counts 0, and when that happens for
   CPU or memory the pod is flagged (`requests_missing`). Memory is counted in GiB (2^30 bytes,
   what "GB" means throughout usage).
2. GPUs are the `nvidia.com/gpu` plus `amd.com/gpu` requests (or limits).
3. A pod runs from `status.startTime` (when missing: the first time we saw it) to the latest
   container `finishedAt` once it has finished (phase Succeeded or Failed), else to the last
   time it was seen Running. A pod never seen Running and without a finish costs nothing, so a
   Pending pod costs nothing. A pod deleted between samples counts up to its last sighting.
4. Intervals are split exactly at the day boundaries of BILLING_TIME_ZONE: a pod running
   22:00 to 02:00 gives 2 hours to each day (a DST day has 23 or 25 hours).
5. Per project (namespace) and day, per instance type (the node's
   `node.kubernetes.io/instance-type`): pod-hours (billed as instance hours), CPU hours
   (cores x hours), GPU hours, memory GB-hours (GiB x hours).
6. A pod whose requests cannot be read or are implausibly large, or that finished before it
   started (clock skew), is not counted: the run is partial and says why, so it is neither
   billed as zero nor billed absurdly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from kubernetes.utils import parse_quantity

GIB = Decimal(2**30)
GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
FINISHED_PHASES = {"Succeeded", "Failed"}
# Beyond these a request is a typo or an attack, not a workload.
PLAUSIBLE_MAX = {"cpu": Decimal(10_000), "memory": Decimal(1_000_000), "gpu": Decimal(1_000)}
_HOUR_MICROS = Decimal(3_600_000_000)


@dataclass(frozen=True)
class PodFacts:
    """What the rules take from one pod object of the API."""

    uid: str
    namespace: str
    name: str
    node_name: str
    phase: str
    cpu_cores: Decimal
    memory_gib: Decimal
    gpus: Decimal
    requests_missing: bool
    anomaly: str
    started_at: datetime | None
    finished_at: datetime | None


class MalformedPod(ValueError):
    pass


def pod_facts(raw: dict) -> PodFacts:
    """Rules 1-3 applied to one pod of the API (a JSON dict). Raises MalformedPod when the pod
    has no identity."""
    meta = raw.get("metadata") or {}
    spec = raw.get("spec") or {}
    status = raw.get("status") or {}
    if not meta.get("uid") or not meta.get("namespace"):
        raise MalformedPod("a pod without uid or namespace")
    phase = str(status.get("phase") or "")
    anomaly = ""
    try:
        cpu, memory, gpus, missing = _effective_requests(spec)
    except (ValueError, InvalidOperation, TypeError) as exc:
        cpu = memory = gpus = Decimal(0)
        missing, anomaly = False, f"unreadable resource request ({exc})"[:255]
    too_big = (
        cpu > PLAUSIBLE_MAX["cpu"]
        or memory > PLAUSIBLE_MAX["memory"]
        or gpus > PLAUSIBLE_MAX["gpu"]
    )
    if not anomaly and too_big:
        anomaly = f"implausible requests: cpu {cpu:.3f}, memory {memory:.3f} GiB, gpus {gpus}"
        cpu = memory = gpus = Decimal(0)
    return PodFacts(
        uid=str(meta["uid"]),
        namespace=str(meta["namespace"]),
        name=str(meta.get("name") or ""),
        node_name=str(spec.get("nodeName") or ""),
        phase=phase,
        cpu_cores=cpu,
        memory_gib=memory,
        gpus=gpus,
        requests_missing=missing,
        anomaly=anomaly,
        started_at=_timestamp(status.get("startTime")),
        finished_at=_finished_at(status) if phase in FINISHED_PHASES else None,
    )


def _effective_requests(spec: dict) -> tuple[Decimal, Decimal, Decimal, bool]:
    app = [_container_requests(c) for c in spec.get("containers") or []]
    init = [_container_requests(c) for c in spec.get("initContainers") or []]
    result = []
    for index in range(3):
        app_sum = sum((c[index] for c in app), Decimal(0))
        init_max = max((c[index] for c in init), default=Decimal(0))
        result.append(max(app_sum, init_max))
    missing = any(c[3] for c in app + init)
    return result[0], result[1] / GIB, result[2], missing


def _container_requests(container: dict) -> tuple[Decimal, Decimal, Decimal, bool]:
    resources = container.get("resources") or {}
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}

    def amount(name: str) -> Decimal | None:
        value = requests.get(name, limits.get(name))
        return None if value is None else parse_quantity(value)

    cpu, memory = amount("cpu"), amount("memory")
    gpus = sum((amount(name) or Decimal(0) for name in GPU_RESOURCES), Decimal(0))
    missing = cpu is None or memory is None
    return cpu or Decimal(0), memory or Decimal(0), gpus, missing


def _finished_at(status: dict) -> datetime | None:
    finishes = []
    for container in status.get("containerStatuses") or []:
        terminated = ((container or {}).get("state") or {}).get("terminated") or {}
        finish = _timestamp(terminated.get("finishedAt"))
        if finish:
            finishes.append(finish)
    return max(finishes, default=None)


def _timestamp(value) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def running_interval(
    *,
    started_at: datetime | None,
    finished_at: datetime | None,
    first_seen_at: datetime,
    last_running_at: datetime | None,
) -> tuple[datetime, datetime] | None:
    """Rule 3: the interval a pod counts for, or None when it costs nothing. Raises ClockSkew
    when the cluster says it finished before it started. A pod last seen running before its
    start time (the cluster's clock a little ahead of ours, a pod that just started) has
    simply not run yet."""
    start = started_at or first_seen_at
    if finished_at is not None:
        if finished_at < start:
            raise ClockSkew(
                f"finished {finished_at.isoformat()} before it started {start.isoformat()}"
            )
        return start, finished_at
    if last_running_at is None or last_running_at <= start:
        return None
    return start, last_running_at


class ClockSkew(ValueError):
    pass


def hours_within(start: datetime, end: datetime, window: tuple[datetime, datetime]) -> Decimal:
    """Hours of [start, end) inside the window, exact to the microsecond (rule 4)."""
    overlap = min(end, window[1]).astimezone(UTC) - max(start, window[0]).astimezone(UTC)
    if overlap <= timedelta(0):
        return Decimal(0)
    micros = (overlap.days * 86_400 + overlap.seconds) * 1_000_000 + overlap.microseconds
    return Decimal(micros) / _HOUR_MICROS
