from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from clusters.services import ClusterError, cluster_register


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise CommandError(f"Cannot read the {what} file {path}: {exc.strerror}") from exc


class Command(BaseCommand):
    help = "Create or update a cluster (secrets are read from files, stored encrypted)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--hopsworks-url", required=True)
        parser.add_argument("--api-key-file", required=True)
        parser.add_argument("--kubeconfig", required=True, help="Path of a kubeconfig file.")
        parser.add_argument("--capacity", type=int)
        parser.add_argument("--region")
        parser.add_argument("--auth0-client-id")

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
            raise CommandError(str(exc)) from exc
        verb = "Created" if created else "Updated"
        self.stdout.write(
            f"{verb} cluster {cluster.name} ({cluster.hopsworks_url}, capacity {cluster.capacity})"
        )
