"""The README quick start, as an operator types it: register a cluster by its address, import
the example catalogue, collect a day by the cluster's name: a complete, priced day."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

from django.core.management import call_command

from billing.ledger.catalogue import EXAMPLE_CATALOGUE
from clusters.models import Cluster
from usage.models import UsageDay

ROOT = Path(__file__).resolve().parents[2]


def test_register_import_collect_gives_a_complete_priced_day(
    owner, fake_kube, hopsworks, busy_day, tmp_path
):
    key, kubeconfig = tmp_path / "eu1.key", tmp_path / "eu1.kubeconfig"
    key.write_text("hw-key\n")
    kubeconfig.write_text(fake_kube.kubeconfig())
    out = StringIO()

    call_command(
        "register_cluster",
        *["--name", "eu1", "--hopsworks-url", "https://hw.test/"],
        *["--api-key-file", str(key), "--kubeconfig", str(kubeconfig)],
        stdout=out,
    )
    call_command("prices", "import", str(ROOT / EXAMPLE_CATALOGUE), stdout=out, stderr=StringIO())
    call_command("collect_usage", "--date", "2024-01-15", "--cluster", "eu1", stdout=out)

    assert Cluster.objects.get().hopsworks_url == "https://hw.test/hopsworks-api/api"
    assert "eu1 2024-01-15: complete" in out.getvalue(), out.getvalue()
    day = UsageDay.objects.get(user=owner)
    assert day.status == "complete" and day.cost_cents > 0
    assert not day.line_items.filter(unit_price__isnull=True, quantity__isnull=False).exists()
