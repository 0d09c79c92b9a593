"""The billing page explains every cent: prices carry their units, cents are allocated so lines
add up to their day and days to the month (page, CSV and API alike), "Not measured" is never
$0.00, breakdowns are sorted by cost, the ledger names the day and cluster it charged, the
month picker changes the whole page, and new or incomplete days say what they are. Every
assertion is on what the user gets (HTML, CSV, JSON)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings

from billing.ledger import credits_deduct_usage
from billing.ledger.calendar import month_bounds
from billing.models import Resource
from tests.billing.page_data import clusters_make
from usage.models import UsageDay, UsageLineItem

# Three lines of $0.335 each: rounded one by one they make $1.02, but the day is $1.01.
AWKWARD = [
    ("alpha", Resource.CPU_HOURS, "", Decimal("8.375"), Decimal("0.04")),
    ("beta", Resource.CPU_HOURS, "", Decimal("8.375"), Decimal("0.04")),
    ("gamma", Resource.CPU_HOURS, "", Decimal("8.375"), Decimal("0.04")),
]
UNITS = [
    ("alpha", Resource.STORAGE_DATASETS, "", Decimal("30"), Decimal("0.023")),
    ("alpha", Resource.API_CALLS_JOBS, "", Decimal("1000"), Decimal("0.01")),
    ("beta", Resource.API_CALLS_MODEL_SERVING, "", None, Decimal("0.02")),
    ("beta", Resource.GPU_HOURS, "", Decimal("2"), Decimal("0.9")),
]


def day_make(user, cluster, day: date, lines, status="complete") -> UsageDay:
    from billing.ledger.money import to_cents
    from billing.ledger.prices import cost_of

    costs = [
        None if q is None else cost_of(resource=r, quantity=q, unit_price=p, day=day)
        for _, r, _, q, p in lines
    ]
    total = sum((c for c in costs if c is not None), Decimal(0))
    usage_day = UsageDay.objects.create(
        user=user, cluster=cluster, date=day, status=status, cost=total, cost_cents=to_cents(total)
    )
    UsageLineItem.objects.bulk_create(
        UsageLineItem(
            usage_day=usage_day,
            project=project,
            resource=resource,
            instance_type=itype,
            quantity=q,
            unit_price=p,
            cost=cost,
        )
        for (project, resource, itype, q, p), cost in zip(lines, costs, strict=True)
    )
    return usage_day


@pytest.fixture
def clusters(db):
    return clusters_make(2)


@pytest.fixture
def awkward_month(owner, clusters, today):
    """Every day of this month so far on two clusters, each day's lines rounding awkwardly."""
    first = month_bounds(today)[0]
    for n in range(today.day):
        for cluster in clusters:
            day_make(owner, cluster, first + timedelta(days=n), AWKWARD + UNITS)


def page(client, url="/billing/") -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def cents_of(text: str) -> int:
    return int(re.sub(r"[^\d-]", "", text))


def by_testid(body: str, name: str) -> str:
    return re.search(rf'data-testid="{name}">([^<]+)<', body)[1]


def day_blocks(body: str) -> dict[str, str]:
    return dict(
        re.findall(r'<details class="day" id="day-([\d-]+)".*?>(.*?)</details>', body, re.S)
    )


# --- every line reconciles ---------------------------------------------------------------


def test_prices_carry_their_unit_and_the_billed_quantity_in_it(client, owner, clusters, today):
    day_make(owner, clusters[0], today, UNITS)
    client.force_login(owner)
    body = page(client)
    per_month = f"{Decimal(30) / month_bounds(today)[1].day:.6f}".rstrip("0").rstrip(".")
    assert f"{per_month} GB-month × $0.023 / GB-month" in body
    assert "1 1,000 calls × $0.01 / 1,000 calls" in body
    assert "2 GPU-hour × $0.90 / GPU-hour" in body
    assert "30 GB-day" in body and "1,000 calls" in body


def test_lines_sum_to_their_day_and_days_to_the_month_on_the_page(client, owner, awkward_month):
    client.force_login(owner)
    body = page(client)
    days = day_blocks(body)
    assert days
    day_totals = []
    for block in days.values():
        for cluster_rows in block.split('<tr class="group">')[1:]:
            lines = re.findall(r'data-label="Cost">(\$[\d,.]+)</td>', cluster_rows)
            subtotal = re.search(r'data-label="Total">(\$[\d,.]+)<', cluster_rows)[1]
            assert sum(map(cents_of, lines)) == cents_of(subtotal)
        summary = re.search(r'class="day-cost">([^<]+)<', block)[1]
        day_totals.append(cents_of(summary))
    assert sum(day_totals) == cents_of(by_testid(body, "mtd-total"))


def test_awkward_lines_get_the_missing_cent_by_largest_remainder(client, owner, clusters, today):
    day_make(owner, clusters[0], today, AWKWARD)
    client.force_login(owner)
    block = day_blocks(page(client))[today.isoformat()]
    lines = re.findall(r'data-label="Cost">(\$[\d,.]+)</td>', block)
    assert sorted(lines) == ["$0.33", "$0.34", "$0.34"]
    assert "$1.01" in re.search(r'class="day-cost">([^<]+)<', block)[1]


def test_page_csv_and_api_agree_to_the_cent(client, owner, awkward_month, today):
    client.force_login(owner)
    body = page(client)
    month_total = cents_of(by_testid(body, "mtd-total"))
    response = client.get(f"/billing/export.csv?month={today:%Y-%m}")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sum(int(r["cost_cents"]) for r in rows if r["cost_cents"]) == month_total
    for row in rows:
        if row["cost"]:
            billed = Decimal(row["billed_quantity"]) * Decimal(row["unit_price"])
            assert abs(billed - Decimal(row["cost"])) < Decimal("0.000002")
    api = client.get("/api/billing").json()["month_to_date"]
    assert api["cost_cents"] == month_total
    assert sum(d["charged_cents"] for d in api["days"]) == month_total
    assert sum(r["cost_cents"] for r in api["by_resource"]) == month_total
    assert sum(p["cost_cents"] for p in api["by_project"]) == month_total
    assert sum(c["cost_cents"] for c in api["by_cluster"]) == month_total
    for day in api["days"]:
        for usage_day in day["usage_days"]:
            lines = [line["cost_cents"] or 0 for line in usage_day["lines"]]
            assert sum(lines) == usage_day["cost_cents"]
    storage = next(r for r in api["by_resource"] if r["resource"] == "storage_datasets")
    assert storage["price_unit"] == "GB-month" and storage["unit"] == "GB-day"


def month_totals(client, today) -> tuple[int, int, int]:
    """The month's total as the page, the CSV export and the API show it."""
    shown = cents_of(by_testid(page(client), "mtd-total"))
    response = client.get(f"/billing/export.csv?month={today:%Y-%m}")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    exported = sum(int(r["cost_cents"]) for r in rows if r["cost_cents"])
    return shown, exported, client.get("/api/billing").json()["month_to_date"]["cost_cents"]


def test_cached_totals_follow_a_recollection_and_a_posting(
    fund, client, owner, prepaid_account, clusters, awkward_month, today
):
    client.force_login(owner)
    before, _, _ = month_totals(client, today)
    # A posting renders the page again around the cached usage panels: same totals.
    fund(500)
    assert month_totals(client, today) == (before,) * 3
    # The day recollected with other lines (a correction): every view moves together.
    day = UsageDay.objects.get(user=owner, cluster=clusters[0], date=today)
    old_cents = day.cost_cents
    UsageLineItem.objects.filter(usage_day=day).delete()
    day.delete()
    new_cents = day_make(owner, clusters[0], today, UNITS).cost_cents
    assert new_cents != old_cents
    assert month_totals(client, today) == (before - old_cents + new_cents,) * 3


def test_not_measured_reads_the_same_everywhere_and_is_never_zero(client, owner, clusters, today):
    day_make(owner, clusters[0], today, UNITS)
    client.force_login(owner)
    body = page(client)
    row = re.search(r"<tr><th scope=\"row\">API calls: model serving</th>(.*?)</tr>", body, re.S)[1]
    assert "Not measured" in row and "$0.00" not in row
    block = day_blocks(body)[today.isoformat()]
    line = re.search(r'<td class="" data-label="Project">beta</td>(.*?)</tr>', block, re.S)[1]
    assert "Not measured" in line and "$" not in line
    assert "not measured" not in body  # one spelling
    response = client.get(f"/billing/export.csv?month={today:%Y-%m}")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    serving = next(r for r in rows if r["resource"] == "api_calls_model_serving")
    assert serving["note"] == "Not measured" and serving["cost"] == serving["cost_cents"] == ""
    api = client.get("/api/billing").json()["month_to_date"]
    api_line = next(
        line
        for line in api["days"][0]["usage_days"][0]["lines"]
        if line["resource"] == "api_calls_model_serving"
    )
    assert api_line["quantity"] is None and api_line["cost_cents"] is None


# --- the page answers the customer's questions first -------------------------------------


def test_postpaid_sees_the_upcoming_invoice(client, owner, awkward_month, today):
    client.force_login(owner)
    body = page(client)
    card = re.search(r'data-testid="upcoming-invoice">(.*?)</section>', body, re.S)[1]
    first, last = month_bounds(today)
    assert f"{first:%b} {first.day} – {last:%b} {last.day}, {last.year}" in card
    assert "Cost so far" in card and "Forecast" in card
    due = last + timedelta(days=1)
    assert f'data-testid="due-date">{due:%b} {due.day}, {due.year}<' in card


def test_prepaid_sees_balance_and_runway(fund, client, owner, prepaid_account, clusters, today):
    fund(100_00)
    for n in range(1, 5):  # four days of $1.01
        day_make(owner, clusters[0], today - timedelta(days=n), AWKWARD)
    client.force_login(owner)
    body = page(client)
    assert by_testid(body, "balance") == "$100.00"
    assert by_testid(body, "runway") == "About 99 days"  # 10,000 / 101


def test_breakdowns_are_sorted_by_cost_with_shares(client, owner, clusters, today):
    day_make(owner, clusters[0], today, UNITS + AWKWARD)
    client.force_login(owner)
    body = page(client)
    table = re.search(r'data-testid="by-resource">(.*?)</table>', body, re.S)[1]
    costs = [cents_of(c) for c in re.findall(r'data-label="Cost">(\$[\d,.]+)<', table)]
    assert costs == sorted(costs, reverse=True)
    assert "%" in table
    projects = re.search(r'data-testid="by-project">(.*?)</table>', body, re.S)[1]
    names = re.findall(r'<th scope="row">(\w+)</th>', projects)
    assert names[0] == "beta"  # $1.80 GPU + $0.67 CPU beats alpha


def test_ledger_rows_name_the_usage_day_and_cluster_and_link_to_it(
    client, owner, prepaid_account, clusters, today
):
    usage_day = day_make(owner, clusters[1], today - timedelta(days=1), AWKWARD)
    credits_deduct_usage(
        account=prepaid_account, usage_ref=f"usage_day:{usage_day.pk}", cost_cents=101
    )
    client.force_login(owner)
    body = page(client)
    ledger = re.search(r'data-testid="ledger">(.*?)</table>', body, re.S)[1]
    day = usage_day.date
    assert f'href="?month={day:%Y-%m}#day-{day.isoformat()}"' in ledger
    assert f"on {clusters[1].name}" in ledger


def test_choosing_a_month_changes_the_whole_page(client, owner, clusters, today):
    earlier = month_bounds(today)[0] - timedelta(days=40)
    first, last = month_bounds(earlier)
    day_make(owner, clusters[0], first + timedelta(days=2), AWKWARD)
    day_make(owner, clusters[0], today, UNITS)
    client.force_login(owner)
    body = page(client, f"/billing/?month={first:%Y-%m}")
    assert by_testid(body, "mtd-total") == "$1.01"
    assert f"Total for {first:%B %Y}" in body
    assert f"Daily cost, {first:%B %Y}" in body
    assert body.count('class="slot') == last.day
    assert set(day_blocks(body)) == {(first + timedelta(days=2)).isoformat()}
    by_resource = re.search(r'data-testid="by-resource">(.*?)</table>', body, re.S)[1]
    assert "CPU hours" in by_resource and "GPU" not in by_resource


# --- empty and error states ---------------------------------------------------------------


def test_a_new_account_sees_what_will_appear_and_when(client, owner):
    client.force_login(owner)
    body = page(client)
    assert 'data-testid="getting-started"' in body
    assert "every night at 02:00" in body
    assert 'data-testid="chart-empty"' in body


@override_settings(BILLING_PAGE_CACHE_SECONDS=0)
def test_a_partial_day_says_so_and_is_not_charged(client, owner, clusters, today):
    day_make(owner, clusters[0], today, AWKWARD)
    day_make(owner, clusters[1], today, AWKWARD, status="partial")
    client.force_login(owner)
    body = page(client)
    block = day_blocks(body)[today.isoformat()]
    assert "Collection incomplete: $1.01 measured so far, not charged" in block
    assert "not charged until it completes" in block
    assert by_testid(body, "mtd-total") == "$1.01"
    assert by_testid(body, "not-charged") == "$1.01"
