"""The one way a request or a staff action hands work to Celery.

- `task_enqueue`: for work that must happen. It records a `PendingTask` row in the caller's
  transaction (or relies on the caller's own row, e.g. a provisioning run, with
  `record=False`), and sends after commit. A broker outage is logged and leaves the row
  pending; `pending_tasks_sweep` (beat, every minute) sends it later.
- `task_send`: now, for doors whose caller retries (cron): `BrokerUnavailable` on failure.

Both publish once over a connection with a short connect timeout, kept per thread (and
opened afresh once if the kept one fails): no retries, and no result-backend subscription
(Redis' result backend otherwise retries 20 times, about 19 s, before it gives up), so a
broker outage costs a request at most about a second (two, when a kept connection times out
before the fresh one is refused).
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import suppress
from datetime import datetime, timedelta
from functools import partial
from importlib import import_module

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Min
from django.utils import timezone
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from config.errors import DomainError
from jobs.models import PendingTask

logger = logging.getLogger(__name__)

# What an unreachable broker raises: kombu's wrappers, redis-py's own, sockets; RuntimeError
# is the result backend giving up its reconnection (only with keep_result).
BROKER_ERRORS = (KombuError, RedisError, OSError, RuntimeError)
SWEEP_MIN_AGE = timedelta(minutes=1)  # younger rows may still be on their way (on commit)
SWEEP_BATCH = 200


class BrokerUnavailable(DomainError):
    """The broker could not be reached: nothing was sent. A cron caller retries."""

    http_status = 503
    headers = {"Retry-After": "60"}

    @property
    def user_message(self) -> str:
        return f"{self} Nothing was queued; try again when the broker (Redis) is back."


def _app():
    from config.celery import app

    return app


def _task(app, name: str):
    """The registered task; its module is imported first (a web process has not imported
    every tasks module, and Celery's autodiscovery only runs in workers)."""
    if name not in app.tasks:
        import_module(name.rpartition(".")[0])
    return app.tasks[name]


def _connection(app):
    """A fresh broker connection that gives up at once: one connect attempt, short timeouts
    (kombu's default is to retry with 2 s sleeps)."""
    timeout = settings.TASK_SEND_TIMEOUT_SECONDS
    return app.connection_for_write(
        connect_timeout=timeout,
        transport_options={
            "max_retries": 0,
            "socket_connect_timeout": timeout,
            "socket_timeout": timeout,
        },
    )


def task_send(name: str, *, args=(), kwargs=None, keep_result: bool = False, **options) -> str:
    """Publish the task now; its id. Raises BrokerUnavailable (logged) at once when the broker
    is down. `keep_result` only for callers that read the result (it subscribes to the result
    backend first)."""
    app = _app()
    task = _task(app, name)
    if app.conf.task_always_eager:  # `make run`: no broker, the task runs here
        return task.apply_async(args=list(args), kwargs=kwargs or {}, **options).id
    send = partial(
        task.apply_async,
        args=list(args),
        kwargs=kwargs or {},
        retry=False,
        ignore_result=not keep_result,
        **options,
    )
    try:
        return _publish(app, send).id
    except BROKER_ERRORS as exc:
        logger.warning("broker unavailable, %s not sent: %s: %s", name, type(exc).__name__, exc)
        raise BrokerUnavailable(f"The task queue is unreachable ({type(exc).__name__}).") from exc


_kept = threading.local()


def _publish(app, send):
    """The AsyncResult, sent over this thread's kept connection: opening one costs about 5 ms
    of CPU, ten times the publish itself (a webhook delivery sends one task). A kept
    connection that fails (Redis restarted since) is dropped and the send tried once on a
    fresh one."""
    key = (os.getpid(), app.conf.broker_url)
    kept = getattr(_kept, "connection", None)
    if kept is not None and _kept.key == key:
        try:
            return send(connection=kept)
        except BROKER_ERRORS:
            logger.info("kept broker connection failed; trying a fresh one")
        _connection_drop()
    connection = _connection(app)
    try:
        task_id = send(connection=connection)
    except BaseException:
        connection.release()
        raise
    _connection_drop()
    _kept.connection, _kept.key = connection, key
    return task_id


def _connection_drop() -> None:
    kept = getattr(_kept, "connection", None)
    _kept.connection = None
    if kept is not None and _kept.key[0] == os.getpid():
        with suppress(*BROKER_ERRORS):
            kept.release()


def task_enqueue(
    name: str, *, args=(), kwargs=None, key: str = "", record: bool = True
) -> PendingTask | None:
    """Send the task after the current transaction commits. With `record`, a PendingTask row
    is written now, in that transaction, so the intent commits with the change it follows
    up; the same pending `key` recorded twice is one row."""
    row = _record(name, list(args), kwargs or {}, key) if record else None
    pk = row.pk if row else None
    transaction.on_commit(lambda: _send_after_commit(name, list(args), kwargs or {}, pk))
    return row


def _record(name: str, args: list, kwargs: dict, key: str) -> PendingTask:
    if key:
        existing = PendingTask.objects.filter(key=key, status=PendingTask.Status.PENDING).first()
        if existing:
            return existing
    try:
        with transaction.atomic():
            return PendingTask.objects.create(task_name=name, args=args, kwargs=kwargs, key=key)
    except IntegrityError:  # recorded by a concurrent transaction just now
        return PendingTask.objects.get(key=key, status=PendingTask.Status.PENDING)


def _send_after_commit(name: str, args: list, kwargs: dict, pk: int | None) -> None:
    try:
        task_id = task_send(name, args=args, kwargs=kwargs)
    except BrokerUnavailable as exc:
        if pk is not None:
            PendingTask.objects.filter(pk=pk).update(
                attempts=F("attempts") + 1, last_error=str(exc)
            )
        return
    if pk is not None:
        _mark_sent(pk, task_id)


def _mark_sent(pk: int, task_id: str) -> None:
    PendingTask.objects.filter(pk=pk, status=PendingTask.Status.PENDING).update(
        status=PendingTask.Status.SENT,
        sent_at=timezone.now(),
        task_id=task_id,
        attempts=F("attempts") + 1,
        last_error="",
    )


def pending_tasks_sweep(*, now: datetime | None = None) -> int:
    """Send the rows still pending a minute after they were recorded; how many were sent.
    Rows are claimed with SKIP LOCKED, so two sweeps at once send each row once. The first
    broker failure stops the sweep (the next one retries)."""
    cutoff = (now or timezone.now()) - SWEEP_MIN_AGE
    sent = 0
    with transaction.atomic():
        rows = (
            PendingTask.objects.select_for_update(skip_locked=True)
            .filter(status=PendingTask.Status.PENDING, created_at__lt=cutoff)
            .order_by("created_at", "pk")[:SWEEP_BATCH]
        )
        for row in list(rows):
            try:
                task_id = task_send(row.task_name, args=row.args, kwargs=row.kwargs)
            except BrokerUnavailable as exc:
                PendingTask.objects.filter(pk=row.pk).update(
                    attempts=F("attempts") + 1, last_error=str(exc)
                )
                break
            _mark_sent(row.pk, task_id)
            sent += 1
    return sent


def pending_tasks_oldest(*, now: datetime | None = None) -> timedelta | None:
    """Age of the oldest row not yet sent (None: nothing pending)."""
    oldest = PendingTask.objects.filter(status=PendingTask.Status.PENDING).aggregate(
        at=Min("created_at")
    )["at"]
    return None if oldest is None else (now or timezone.now()) - oldest


def broker_check() -> str:
    """'ok', or why the broker cannot be reached (within the short timeout)."""
    app = _app()
    if app.conf.task_always_eager:
        return "ok (tasks run eagerly)"
    try:
        with _connection(app) as connection:
            connection.default_channel.client.ping()
    except BROKER_ERRORS as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok"
