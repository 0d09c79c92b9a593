"""The Procfile deploy serves its own static files with DEBUG off: the release step's
`collectstatic` into a fresh STATIC_ROOT, then the Procfile's web command (gunicorn) with
production settings on a free port; the billing page's stylesheet and the Swagger UI assets
(drf-spectacular-sidecar) answer 200 with the right types, compressed and long-cached."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.first_run import free_port

ROOT = Path(__file__).resolve().parent.parent
HTTPS = {"X-Forwarded-Proto": "https"}  # as the proxy in front says; no redirect to https


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)


@pytest.fixture(scope="module")
def production_env(tmp_path_factory) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    return {
        "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", "/root"),
        "APP_ENV": "production",
        "DEBUG": "false",
        "SECRET_KEY": "deploy-test-" + "k3y" * 20,
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hopsbill"
        ),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "FIELD_ENCRYPTION_KEYS": "bG9jYWwtZGV2ZWxvcG1lbnQta2V5LW5vdC1zZWNyZXQ=",
        "ALLOWED_HOSTS": "127.0.0.1",
        "CRON_SECRET": "deploy-test-cron",
        "STATIC_ROOT": str(tmp_path_factory.mktemp("staticfiles")),
        "WEB_CONCURRENCY": "1",
    }


@pytest.fixture(scope="module")
def released(production_env) -> dict[str, str]:
    """The release step's collectstatic (its migrate needs a database of its own: left out)."""
    steps = [s.strip() for s in procfile()["release"].split("&&")]
    collect = next(s for s in steps if "collectstatic" in s)
    subprocess.run(
        shlex.split(collect.replace("python", sys.executable, 1)),
        cwd=ROOT,
        env=production_env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return production_env


@pytest.fixture(scope="module")
def web(released):
    port = free_port()
    proc = subprocess.Popen(
        ["sh", "-c", f"exec {procfile()['web']}"],
        cwd=ROOT,
        env={**released, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            requests.get(f"{base}/healthz", timeout=30)
            break
        except requests.RequestException:  # not listening yet, or a worker still booting
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"gunicorn did not start: {proc.stderr.read()}")
            time.sleep(0.3)
    yield base
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers={**HTTPS, **headers}, timeout=30)


def assets(html: str, pattern: str) -> list[str]:
    return re.findall(rf'(?:href|src)="(/static/{pattern})"', html)


def test_the_billing_page_stylesheet_is_served_hashed_compressed_and_cached(web):
    login = get(f"{web}/billing/")  # anonymous: the login page, styled like the billing page
    assert login.status_code == 200 and login.url.endswith("/accounts/login/?next=/billing/")
    [stylesheet] = assets(login.text, r"css/app\.[0-9a-f]{12}\.css")

    response = get(f"{web}{stylesheet}", **{"Accept-Encoding": "gzip"})

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/css")
    assert response.headers.get("Content-Encoding") == "gzip"
    assert "max-age=315360000" in response.headers["Cache-Control"]
    assert ".topbar" in response.text


def test_the_swagger_ui_assets_are_served(web):
    docs = get(f"{web}/api/docs/")
    assert docs.status_code == 200
    css = assets(docs.text, r"drf_spectacular_sidecar/[^\"]+\.css")
    scripts = assets(docs.text, r"drf_spectacular_sidecar/[^\"]+\.js")
    assert css and len(scripts) >= 2, docs.text

    for path in css:
        response = get(f"{web}{path}")
        assert response.status_code == 200 and response.headers["Content-Type"].startswith(
            "text/css"
        )
    for path in scripts:
        response = get(f"{web}{path}")
        assert response.status_code == 200, path
        assert response.headers["Content-Type"].split(";")[0] in {
            "text/javascript",
            "application/javascript",
        }


def test_an_unknown_page_is_the_branded_404_with_debug_off(web):
    response = get(f"{web}/no-such-page/")
    assert response.status_code == 404
    assert 'data-testid="error-404"' in response.text and "/static/css/app." in response.text
