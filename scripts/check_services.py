"""Before the tests: is PostgreSQL and Redis reachable? One clear line if not, no stack trace."""

from __future__ import annotations

import os
import sys
from urllib.parse import urlparse

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/hopsbill"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def check_postgres(url: str) -> str | None:
    import psycopg

    parts = urlparse(url)
    try:
        psycopg.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error:
        return (
            f"PostgreSQL is not reachable at {parts.hostname}:{parts.port or 5432}: start it "
            "(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) "
            "or set DATABASE_URL."
        )
    return None


def check_redis(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError:
        return (
            f"Redis is not reachable at {url}: start it (redis-server --daemonize yes "
            "--bind 127.0.0.1 --port 6379 --save '' --appendonly no) or set REDIS_URL."
        )
    return None


def main() -> int:
    problems = [
        check_postgres(os.environ.get("DATABASE_URL", DEFAULT_DB)),
        check_redis(os.environ.get("REDIS_URL", DEFAULT_REDIS)),
    ]
    problems = [p for p in problems if p]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
