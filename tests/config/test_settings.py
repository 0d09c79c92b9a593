"""Start-up behaviour, checked in fresh interpreters so the test settings are not involved."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DATABASE_URL"}}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        (
            {
                "APP_ENV": "production",
                "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x",
                "FIELD_ENCRYPTION_KEYS": "",
            },
            "Set the SECRET_KEY environment variable",
        ),
        ({"APP_ENV": "local", "DEBUG": "maybe"}, "DEBUG must be a boolean"),
    ],
    ids=["production-without-a-secret", "a-bad-boolean-is-not-false"],
)
def test_a_bad_environment_stops_startup_naming_the_variable(environment, message):
    result = run(
        "import django; django.setup()", DJANGO_SETTINGS_MODULE="config.settings", **environment
    )
    assert result.returncode != 0
    assert message in result.stderr


def test_service_check_prints_one_clear_line_when_postgres_is_down():
    result = subprocess.run(
        [sys.executable, "scripts/check_services.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": "postgres://postgres@127.0.0.1:1/x"},
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("PostgreSQL is not reachable at 127.0.0.1:1")


def test_operator_commands_print_no_library_banner(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", ""),
            "APP_ENV": "local",
            "DJANGO_ENV_FILE": ".env.example",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
    assert "AXES" not in result.stderr and result.stderr.strip() == ""


def test_django_records_reach_the_console_once():
    """Django's default config gives the `django` logger a console handler of its own; with
    the root's console handler every record printed twice under `make run` (DEBUG on)."""
    result = run(
        "import django, logging; django.setup();"
        "logging.getLogger('django.request').warning('once')",
        APP_ENV="local",
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_ENV_FILE=".env.example",
        DEBUG="true",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("once") == 1
