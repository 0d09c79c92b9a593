"""`manage.py check --deploy` is clean with production settings (HTTPS cookies, HSTS, secure
headers), with and without Auth0 configured. Runs in a subprocess: settings load at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "APP_ENV": "production",
    "SECRET_KEY": "prod-test-" + "k3y" * 20,
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
    "FIELD_ENCRYPTION_KEYS": "bG9jYWwtZGV2ZWxvcG1lbnQta2V5LW5vdC1zZWNyZXQ=",
    "ALLOWED_HOSTS": "billing.example.com",
    "CRON_SECRET": "cron-secret-for-the-test",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}
AUTH0_ENV = {
    "AUTH0_DOMAIN": "tenant.auth0.test",
    "AUTH0_CLIENT_ID": "cid",
    "AUTH0_CLIENT_SECRET": "secret",
}


def check_deploy(extra: dict[str, str]) -> subprocess.CompletedProcess:
    # Only what production would have: nothing leaks in from the test run (its APP_ENV, or the
    # DJANGO_ALLOW_ASYNC_UNSAFE the browser tests set, which check --deploy rightly refuses).
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root")}
    env.update(PRODUCTION_ENV, DJANGO_SETTINGS_MODULE="config.settings", **extra)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("extra", [{}, AUTH0_ENV], ids=["django-login", "auth0-login"])
def test_check_deploy_is_clean_in_production(extra):
    result = check_deploy(extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret():
    result = check_deploy({"SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
