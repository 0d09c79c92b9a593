"""The `make run` preparation (fresh SQLite file, migrate, demo) for tests/test_first_run.py,
started in a background thread when collection finishes so the minute of SQLite migrations
overlaps the rest of the suite. The test waits for it through the `first_run_prepared` fixture.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_FILE = "tests/test_first_run.py"


def make_run_env(sqlite_path: Path) -> dict[str, str]:
    """`make run`'s environment, and nothing from the test run (its APP_ENV, settings module,
    PostgreSQL URL), on a fresh SQLite file."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "APP_ENV": "local",
        "DJANGO_ENV_FILE": ".env.example",
        "DATABASE_URL": f"sqlite:///{sqlite_path}",
    }


class Preparation:
    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="hopsbill-first-run-"))
        atexit.register(shutil.rmtree, self.directory, ignore_errors=True)
        self.env = make_run_env(self.directory / "db.sqlite3")
        self.failure = ""
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for command in (["migrate", "--noinput", "-v", "0"], ["demo"]):
            result = subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            if result.returncode != 0:
                self.failure = f"manage.py {' '.join(command)}:\n{result.stdout}{result.stderr}"
                return

    def wait(self) -> dict[str, str]:
        self._thread.join(timeout=900)
        if self._thread.is_alive():
            raise AssertionError("migrate + demo on SQLite took more than 15 minutes")
        if self.failure:
            raise AssertionError(self.failure)
        return self.env


_preparation: Preparation | None = None


def preparation_start() -> None:
    global _preparation
    if _preparation is None:
        _preparation = Preparation()


def preparation_wait() -> dict[str, str]:
    preparation_start()  # the test selected some other way: start now
    return _preparation.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
