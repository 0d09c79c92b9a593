from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from clusters.cli import report_print
from clusters.services import ClusterError, cluster_register, cluster_test_connection
from config.commands import OperatorCommand


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise CommandError(f"Cannot read the {what} file {path}: {exc.strerror}") from exc


class Command(OperatorCommand):
    help = (
        "Create or update a cluster. Secrets are read from files and stored encrypted. "
        "--hopsworks-url may be the cluster's address or its API base (.../hopsworks-api/api); "
        "the API base is stored. The kubeconfig must name a current context with a server."
    )
    examples = (
        "register_cluster --name eu1 --hopsworks-url https://eu1.example.com "
        "--api-key-file eu1.key --kubeconfig eu1.kubeconfig --capacity 100 --check",
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="A short slug, e.g. eu1")
        parser.add_argument(
            "--hopsworks-url", required=True, help="https://HOST or https://HOST/hopsworks-api/api"
        )
        parser.add_argument(
            "--api-key-file", required=True, help="File holding a Hopsworks admin API key"
        )
        parser.add_argument("--kubeconfig", required=True, help="Path of a kubeconfig file")
        parser.add_argument("--capacity", type=int, help="Maximum number of users (default 100)")
        parser.add_argument("--region")
        parser.add_argument(
            "--auth0-client-id", help="Auth0 client id of the cluster's OAuth login"
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Then call the Hopsworks API (connection test) and print the report",
        )

    def handle(self, *args, **opts):
        api_key = _read(opts["api_key_file"], "API key")
        if not api_key:
            raise CommandError("The API key file is empty.")
        try:
            cluster, created = cluster_register(
                name=opts["name"],
                hopsworks_url=opts["hopsworks_url"],
                api_key=api_key,
                kubeconfig=_read(opts["kubeconfig"], "kubeconfig"),
                capacity=opts["capacity"],
                region=opts["region"],
                auth0_client_id=opts["auth0_client_id"],
            )
        except (ClusterError, ValidationError) as exc:
            raise CommandError(_message(exc)) from exc
        verb = "Created" if created else "Updated"
        self.stdout.write(
            f"{verb} cluster {cluster.name} (id {cluster.pk}, API base {cluster.hopsworks_url}, "
            f"capacity {cluster.capacity})"
        )
        if opts["check"]:
            report = cluster_test_connection(cluster=cluster)
            report_print(self.stdout, report)
            if report.errors:
                raise CommandError("Connection test failed: " + "; ".join(report.errors))


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return str(exc.messages[0] if isinstance(exc, ValidationError) else exc)
