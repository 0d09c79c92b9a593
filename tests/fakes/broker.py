"""The Celery broker as tests see it: the real local Redis, or a closed port (an outage).

Loaded as a plugin by tests/conftest.py: fixtures `broker_down` and `broker_queue`.
"""

from __future__ import annotations

import base64
import json
import socket
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import redis

from config.celery import app

QUEUE = "celery"


def closed_port() -> int:
    """A loopback port nothing listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Queued:
    task: str
    args: list


class BrokerQueue:
    """The messages waiting in the default queue of the test Redis (db from REDIS_URL)."""

    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url)

    def messages(self) -> list[Queued]:
        found = []
        for raw in self.client.lrange(QUEUE, 0, -1):
            message = json.loads(raw)
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            found.append(Queued(task=message["headers"]["task"], args=args))
        return list(reversed(found))  # LPUSH: the newest first

    def clear(self) -> None:
        self.client.delete(QUEUE)


@pytest.fixture
def broker_queue():
    queue = BrokerQueue(app.conf.broker_url)
    queue.clear()
    yield queue
    queue.clear()


@contextmanager
def broker_outage():
    """The broker URL points at a closed port while inside."""
    saved = app.conf.broker_url
    app.conf.broker_url = f"redis://127.0.0.1:{closed_port()}/0"
    try:
        yield
    finally:
        app.conf.broker_url = saved


@pytest.fixture
def broker_down():
    with broker_outage():
        yield
