"""What the benchmarks share: their own PostgreSQL database, a free loopback port, and the
Django migrations run in a child process for the benches that serve through gunicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent


def in_process_database(name: str) -> str:
    """For a bench that runs Django in its own process: the test settings on database `name`
    (on the server DATABASE_URL names), created if missing. Returns its URL."""
    os.environ.setdefault("APP_ENV", "test")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hopsbill")
    os.environ["DATABASE_URL"] = base.rsplit("/", 1)[0] + "/" + name
    database_create(os.environ["DATABASE_URL"])
    return os.environ["DATABASE_URL"]


def served_env(db_url: str, **extra: str) -> dict[str, str]:
    """For a bench that serves through gunicorn (and workers): the environment of the app."""
    return {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": db_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DB_CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def database_create(url: str) -> None:
    """Create the database a postgres:// URL names, when it does not exist yet."""
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def database_migrate(url: str, env: dict[str, str], *, root: Path = ROOT) -> None:
    """Create the database if needed and apply the migrations (of the code in `root`), in a
    child process."""
    database_create(url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=root,
        env=env,
        check=True,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_start(
    *, port: int, env: dict[str, str], workers: int, root: Path = ROOT
) -> subprocess.Popen:
    """The app (the code in `root`) under gunicorn on loopback, returned once it answers."""
    import requests

    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=root,
        env=env,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=10)
            return proc
        except requests.RequestException:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("gunicorn did not start")
