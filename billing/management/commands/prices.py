from __future__ import annotations

import getpass
import sys
from pathlib import Path

from django.core.management.base import CommandError

from billing.ledger.catalogue import CatalogueError, price_catalogue_export, price_catalogue_import
from config.commands import OperatorCommand
from usage.services import usage_billed_days


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Command(OperatorCommand):
    help = (
        "The price catalogue as a YAML file: `export` prints every price with its effective "
        "date; `import` makes the catalogue equal to a file (rows added, changed, removed). "
        "Import is idempotent, and refuses a file that changes prices of days already billed "
        "unless --force is given with a --reason (recorded, staff panel: Price imports)."
    )
    examples = (
        "prices export > prices.yaml",
        "prices import catalogue/prices.example.yaml --dry-run",
        "prices import prices.yaml",
        'prices import prices.yaml --force --reason "Contract 2026-11: GPU price corrected"',
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="export|import")
        actions.add_parser("export", help="Print the catalogue as YAML")
        load = actions.add_parser("import", help="Make the catalogue equal to a YAML file")
        load.add_argument("file", help="The YAML file (`-` for standard input)")
        load.add_argument("--dry-run", action="store_true", help="Show the changes, write nothing")
        load.add_argument(
            "--force", action="store_true", help="Allow changes to prices of billed days"
        )
        load.add_argument("--reason", default="", help="Why (required with --force; recorded)")

    def handle(self, *args, action, **opts):
        if action == "export":
            self.stdout.write(price_catalogue_export(), ending="")
            return
        source = opts["file"]
        text = sys.stdin.read() if source == "-" else _read(source)
        try:
            plan = price_catalogue_import(
                text=text,
                billed_days=usage_billed_days,
                performed_by=_operator(),
                source=source,
                dry_run=opts["dry_run"],
                force=opts["force"],
                reason=opts["reason"],
            )
        except CatalogueError as exc:
            raise CommandError(str(exc)) from exc
        if plan.example:
            self.stderr.write("Note: this file is marked `example: true`: EXAMPLE prices.")
        for line in plan.lines():
            self.stdout.write(line)
        summary = (
            f"{len(plan.added)} added, {len(plan.changed)} changed, {len(plan.removed)} removed, "
            f"{plan.unchanged} unchanged"
        )
        if opts["dry_run"]:
            self.stdout.write(f"Dry run, nothing written: {summary}.")
        elif plan.is_empty:
            self.stdout.write(f"The catalogue already matches {source}: nothing to do.")
        else:
            forced = " (forced: billed days repriced when recollected)" if plan.billed_days else ""
            self.stdout.write(self.style.SUCCESS(f"Imported {source}: {summary}{forced}."))


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}") from exc
