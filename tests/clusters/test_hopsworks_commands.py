from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.models import User
from clusters.models import Cluster
from tests.accounts.fakes import API_KEY, FakeHopsworks, cluster, fake_http, hopsworks

__all__ = ["cluster", "fake_http", "hopsworks"]


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: eu1
  cluster: {server: "https://k8s.eu1.test:6443"}
users:
- name: billing
  user: {token: "kube-token"}
contexts:
- name: eu1
  context: {cluster: eu1, user: billing}
current-context: eu1
"""


@pytest.fixture
def secret_files(tmp_path):
    key = tmp_path / "key"
    key.write_text("hw-key-from-file\n")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    return str(key), str(kubeconfig)


def register(key: str, kubeconfig: str, *args: str, name: str = "eu1", url: str = ""):
    url = url or "https://eu1.test/hopsworks-api/api"
    options = ["--name", name, "--hopsworks-url", url, "--api-key-file", key]
    call_command("register_cluster", *options, "--kubeconfig", kubeconfig, *args)


def test_register_cluster_creates_then_updates_with_secrets_encrypted(db, secret_files, capsys):
    key, kubeconfig = secret_files
    args = ["--name", "eu1", "--hopsworks-url", "https://eu1.test/hopsworks-api/api"]
    secrets = ["--api-key-file", key, "--kubeconfig", kubeconfig]
    call_command("register_cluster", *args, *secrets, "--capacity", "50", "--region", "eu-north-1")
    call_command("register_cluster", *args, *secrets, "--capacity", "60")

    cluster = Cluster.objects.get()
    assert (cluster.capacity, cluster.region, cluster.api_key) == (
        60,
        "eu-north-1",
        "hw-key-from-file",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key, kubeconfig FROM clusters_cluster")
        raw_key, raw_kubeconfig = cursor.fetchone()
    assert "hw-key-from-file" not in raw_key and "kind: Config" not in raw_kubeconfig
    out = capsys.readouterr().out
    assert "Created cluster eu1" in out and "Updated cluster eu1" in out
    assert "hw-key-from-file" not in out


def test_register_cluster_refuses_bad_input_and_writes_nothing(db, secret_files, tmp_path):
    key, kubeconfig = secret_files
    with pytest.raises(CommandError, match="Cannot read"):
        call_command(
            "register_cluster",
            "--name",
            "x",
            "--hopsworks-url",
            "https://x.test",
            "--api-key-file",
            str(tmp_path / "missing"),
            "--kubeconfig",
            kubeconfig,
        )
    with pytest.raises(CommandError, match="http"):
        call_command(
            "register_cluster",
            "--name",
            "x",
            "--hopsworks-url",
            "ftp://x",
            "--api-key-file",
            key,
            "--kubeconfig",
            kubeconfig,
        )
    with pytest.raises(CommandError):
        call_command(
            "register_cluster",
            "--name",
            "not a slug",
            "--hopsworks-url",
            "https://x.test",
            "--api-key-file",
            key,
            "--kubeconfig",
            kubeconfig,
        )
    assert not Cluster.objects.exists()


def test_test_hopsworks_prints_the_connection_test(cluster, hopsworks, capsys):
    call_command("test_hopsworks", "--cluster", "c1")

    out = capsys.readouterr().out
    assert "GET /admin/users" in out and "status 200" in out and API_KEY not in out


def test_test_hopsworks_for_a_user_prints_lookup_and_projects(cluster, hopsworks, capsys):
    User.objects.create_user("alice@example.com", None, auth0_subject="auth0|a", cluster=cluster)
    row = hopsworks.add_user(
        email="alice@example.com", username="alice000", uuid="auth0-client-abc.auth0|a"
    )
    hopsworks.add_project(name="alpha", creator=row)

    call_command("test_hopsworks", "--cluster", "c1", "--user", "alice@example.com")

    out = capsys.readouterr().out
    assert "Hopsworks user: alice000 (id 10001)" in out and "Projects: alpha" in out


def test_test_hopsworks_fails_loudly_on_a_refused_key(cluster, hopsworks):
    cluster.api_key = "wrong"
    cluster.save()
    with pytest.raises(CommandError):
        call_command("test_hopsworks", "--cluster", "c1")
    with pytest.raises(CommandError, match="No cluster"):
        call_command("test_hopsworks", "--cluster", "nope")


@pytest.mark.parametrize(
    "typed",
    [
        "https://eu1.test",
        "https://eu1.test/",
        "https://eu1.test/hopsworks/",
        "https://eu1.test/hopsworks-api",
        "https://eu1.test/hopsworks-api/api/",
        "  https://eu1.test/hopsworks-api/api  ",
    ],
)
def test_register_cluster_stores_the_api_base_whatever_url_the_operator_typed(
    db, secret_files, typed
):
    register(*secret_files, url=typed)
    assert Cluster.objects.get().hopsworks_url == "https://eu1.test/hopsworks-api/api"


@pytest.mark.parametrize(
    ("kubeconfig", "problem"),
    [
        ("apiVersion: v1\nkind: Config\n", "no current-context"),
        ("clusters: [unclosed", "not valid YAML"),
        ("just some text", "not a YAML mapping"),
        (KUBECONFIG.replace("current-context: eu1", "current-context: us2"), "no context named"),
        (KUBECONFIG.replace('{server: "https://k8s.eu1.test:6443"}', "{}"), "no server"),
    ],
)
def test_register_cluster_refuses_a_kubeconfig_the_client_could_not_use(
    db, secret_files, tmp_path, kubeconfig, problem
):
    path = tmp_path / "bad-kubeconfig"
    path.write_text(kubeconfig)
    with pytest.raises(CommandError, match=problem):
        register(secret_files[0], str(path))
    assert not Cluster.objects.exists()


def test_register_cluster_with_check_prints_the_connection_report(
    db, secret_files, fake_http, capsys, tmp_path
):
    FakeHopsworks(fake_http, base="https://eu1.test/hopsworks-api/api")
    key = tmp_path / "eu1.key"
    key.write_text(API_KEY)
    register(str(key), secret_files[1], "--check", url="https://eu1.test")

    out = capsys.readouterr().out
    assert "Created cluster eu1" in out and "API base https://eu1.test/hopsworks-api/api" in out
    assert "GET /admin/users" in out and "status 200" in out
    assert API_KEY not in out


def test_register_cluster_check_fails_loudly_when_the_api_is_unreachable(
    db, secret_files, fake_http, settings
):
    settings.HOPSWORKS_GET_RETRIES = 0
    with pytest.raises(CommandError, match="Connection test failed"):
        register(*secret_files, "--check", url="https://eu1.test")
    assert Cluster.objects.filter(name="eu1").exists()  # registered; the report says what failed


@pytest.mark.parametrize("ref", ["c1", "id"])
def test_test_hopsworks_takes_the_cluster_by_name_or_id(cluster, hopsworks, capsys, ref):
    call_command("test_hopsworks", "--cluster", str(cluster.pk) if ref == "id" else cluster.name)
    assert "status 200" in capsys.readouterr().out
