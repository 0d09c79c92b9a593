"""The price catalogue as a file: `manage.py prices export` / `prices import FILE`, idempotent,
refusing changes to prices of days already billed unless forced with a recorded reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from billing.ledger.catalogue import (
    EXAMPLE_CATALOGUE,
    CatalogueError,
    price_catalogue_export,
    price_catalogue_parse,
)
from billing.models import Price, PriceImport
from clusters.models import Cluster
from usage.models import UsageDay, UsageLineItem

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = """\
prices:
  - resource: cpu_hours
    unit_price: 0.04
    effective_from: 2024-01-01
  - resource: instance_hours
    instance_type: m5.xlarge
    unit: hour
    unit_price: "0.192"
    effective_from: 2024-01-01
"""


@pytest.fixture
def write(tmp_path):
    def to_file(text: str, name: str = "prices.yaml") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return to_file


def prices(*args: str) -> str:
    out = StringIO()
    call_command("prices", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def catalogue() -> set[tuple]:
    return set(
        Price.objects.values_list("resource", "instance_type", "unit_price", "effective_from")
    )


@pytest.fixture
def billed_cpu_day(owner, write):
    """The catalogue imported, then 2024-03-10 collected and priced with its cpu_hours price."""
    prices("import", write(CATALOGUE, "first.yaml"))
    cluster = Cluster.objects.create(name="c1", hopsworks_url="https://c1.test/hopsworks-api/api")
    day = UsageDay.objects.create(
        user=owner, cluster=cluster, date=date(2024, 3, 10), status="complete"
    )
    UsageLineItem.objects.create(
        usage_day=day,
        project="p",
        resource="cpu_hours",
        quantity=10,
        unit_price=Decimal("0.04"),
        cost=Decimal("0.4"),
    )
    return day


def test_import_creates_the_catalogue_and_records_it(db, write):
    out = prices("import", write(CATALOGUE))

    assert catalogue() == {
        ("cpu_hours", "", Decimal("0.04"), date(2024, 1, 1)),
        ("instance_hours", "m5.xlarge", Decimal("0.192"), date(2024, 1, 1)),
    }
    assert "2 added, 0 changed, 0 removed" in out
    audit = PriceImport.objects.get()
    assert (audit.added, audit.forced, audit.reason) == (2, False, "")
    assert "add     cpu_hours from 2024-01-01: 0.04000000" in audit.changes


def test_importing_the_same_file_again_changes_and_records_nothing(db, write):
    path = write(CATALOGUE)
    prices("import", path)
    out = prices("import", path)
    assert "already matches" in out
    assert PriceImport.objects.count() == 1


def test_export_then_import_is_a_no_op(db, write):
    prices("import", str(ROOT / EXAMPLE_CATALOGUE))
    before = catalogue()
    exported = prices("export")

    out = prices("import", write(exported))

    assert "already matches" in out and catalogue() == before and len(before) == 12


def test_dry_run_shows_the_changes_and_writes_nothing(db, write):
    out = prices("import", write(CATALOGUE), "--dry-run")
    assert "add     instance_hours[m5.xlarge] from 2024-01-01: 0.19200000" in out
    assert "Dry run, nothing written" in out
    assert not Price.objects.exists() and not PriceImport.objects.exists()


def test_a_new_price_from_a_later_day_is_accepted_despite_billed_days(db, write, billed_cpu_day):
    later = (
        CATALOGUE
        + "  - resource: cpu_hours\n    unit_price: 0.05\n    effective_from: 2024-04-01\n"
    )
    out = prices("import", write(later, "later.yaml"))
    assert "1 added" in out
    assert Price.objects.filter(resource="cpu_hours").count() == 2


@pytest.mark.parametrize(
    "edit",
    [
        lambda text: text.replace("0.04", "0.045"),  # change
        lambda text: text.replace(
            "2024-01-01\n  - resource: instance", "2024-03-01\n  - resource: instance"
        ),
    ],
    ids=["changed price", "moved effective date"],
)
def test_a_change_to_a_billed_day_is_refused_and_changes_nothing(db, write, billed_cpu_day, edit):
    before = catalogue()

    with pytest.raises(
        CommandError, match=r"days already billed \(cpu_hours from 2024-0.-01: 1 billed day"
    ):
        prices("import", write(edit(CATALOGUE), "edited.yaml"))

    assert catalogue() == before and PriceImport.objects.count() == 1


def test_a_forced_change_needs_a_reason_and_records_it(db, write, billed_cpu_day):
    edited = write(CATALOGUE.replace("0.04", "0.045"), "edited.yaml")
    with pytest.raises(CommandError, match="--force needs a --reason"):
        prices("import", edited, "--force")

    out = prices("import", edited, "--force", "--reason", "contract fix #12")

    assert "forced" in out
    assert Price.objects.get(resource="cpu_hours").unit_price == Decimal("0.045")
    audit = PriceImport.objects.latest("created_at")
    assert (audit.forced, audit.reason, audit.changed) == (True, "contract fix #12", 1)
    assert audit.billed_days == {"cpu_hours from 2024-01-01": ["2024-03-10"]}


def test_changing_a_superseded_price_outside_billed_days_is_accepted(db, write, billed_cpu_day):
    # cpu_hours: 0.03 from 2023-01-01, 0.04 from 2024-01-01; billed day 2024-03-10 uses 0.04.
    older = "  - resource: cpu_hours\n    unit_price: 0.03\n    effective_from: 2023-01-01\n"
    prices("import", write(CATALOGUE + older))  # new row, its window ends before any billed day
    out = prices("import", write(CATALOGUE + older.replace("0.03", "0.031"), "e.yaml"))
    assert "1 changed" in out


def test_removing_the_price_of_billed_days_is_refused(db, write, billed_cpu_day):
    only_instances = CATALOGUE.split("  - resource: instance_hours")[1]
    with pytest.raises(CommandError, match="already billed"):
        prices("import", write("prices:\n  - resource: instance_hours" + only_instances, "r.yaml"))
    assert Price.objects.filter(resource="cpu_hours").exists()


def test_unit_prices_are_read_as_exact_decimals():
    rows = price_catalogue_parse(
        text="prices:\n- {resource: gpu_hours, unit_price: 0.1, effective_from: 2024-01-01}\n"
    )
    assert rows[0].unit_price == Decimal("0.1") and isinstance(rows[0].unit_price, Decimal)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("prices: [unclosed", "not valid YAML"),
        ("- just a list", "top-level `prices:` list"),
        ("prices: []\ncurrency: usd", "Unknown top-level field"),
        ("prices:\n- {resource: disk, unit_price: 1, effective_from: 2024-01-01}", "not one of"),
        (
            "prices:\n- {resource: cpu_hours, unit_price: -1, effective_from: 2024-01-01}",
            "zero or more",
        ),
        (
            "prices:\n- {resource: cpu_hours, unit_price: 0.123456789, effective_from: 2024-01-01}",
            "8 decimal",
        ),
        (
            "prices:\n- {resource: cpu_hours, unit_price: .nan, effective_from: 2024-01-01}",
            "not a number",
        ),
        ("prices:\n- {resource: cpu_hours, unit_price: 1, effective_from: soon}", "must be a date"),
        ("prices:\n- {resource: cpu_hours, unit_price: 1}", "must be a date"),
        (
            "prices:\n- {resource: cpu_hours, unit: GB-hour, unit_price: 1,"
            " effective_from: 2024-01-01}",
            "per CPU-hour",
        ),
        ("prices:\n- {resource: cpu_hours, price: 1, effective_from: 2024-01-01}", "unknown field"),
        (
            "prices:\n- {resource: cpu_hours, unit_price: 1, effective_from: 2024-01-01}\n"
            "- {resource: cpu_hours, unit_price: 2, effective_from: 2024-01-01}",
            "appears twice",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_problem_and_changes_nothing(db, write, text, problem):
    with pytest.raises(CommandError, match=problem):
        prices("import", write(text))
    assert not Price.objects.exists()
    with pytest.raises(CatalogueError):
        price_catalogue_parse(text=text)


def test_the_shipped_catalogue_is_marked_as_example_prices():
    text = (ROOT / EXAMPLE_CATALOGUE).read_text()
    assert text.startswith("# EXAMPLE PRICES") and "\nexample: true\n" in text
    assert len(price_catalogue_parse(text=text)) == 12


def test_the_export_header_says_how_to_import(db):
    assert "manage.py prices import" in price_catalogue_export()


def test_staff_see_the_imports_in_the_panel(client, staff, write):
    prices("import", write(CATALOGUE))
    client.force_login(staff)
    page = client.get("/admin/billing/priceimport/")
    assert page.status_code == 200 and "prices.yaml" in page.content.decode()
