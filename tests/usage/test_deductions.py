"""The nightly sweeper charges every complete prepaid day the collection left uncharged, once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.core.management import call_command
from django.utils import timezone

from billing.ledger import credits_deduct_usage, credits_record_purchase
from billing.ledger.calendar import billing_today
from billing.models import BillingAccount, CreditTransaction
from clusters.models import Cluster
from usage.models import DeductionSweep, UsageDay
from usage.services.deductions import deductions_catch_up

NOW = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)


def _day(account, cluster, day: date, cents: int, status: str = "complete") -> UsageDay:
    return UsageDay.objects.create(
        user=account.user,
        cluster=cluster,
        date=day,
        status=status,
        cost=Decimal(cents) / 100,
        cost_cents=cents,
    )


def test_the_sweeper_catches_up_three_missed_days_exactly_once(prepaid_account, outsider):
    cluster = Cluster.objects.create(name="c1", hopsworks_url="https://c1.test/api")
    credits_record_purchase(account=prepaid_account, amount_cents=10_000, stripe_session_id="cs")
    charged = _day(prepaid_account, cluster, date(2026, 11, 20), 500)
    credits_deduct_usage(
        account=prepaid_account, usage_ref=f"usage_day:{charged.pk}", cost_cents=500
    )
    missed = [_day(prepaid_account, cluster, date(2026, 11, d), 100 * d) for d in (21, 22, 24)]
    _day(prepaid_account, cluster, date(2026, 11, 23), 999, status="partial")  # not complete
    _day(prepaid_account, cluster, date(2026, 9, 1), 777)  # older than the look-back
    postpaid = BillingAccount.objects.get(user=outsider)
    _day(postpaid, cluster, date(2026, 11, 21), 888)  # postpaid: Stripe's business

    sweep = deductions_catch_up(now=NOW)

    assert (sweep.days_checked, sweep.days_caught_up) == (4, 3)
    assert sweep.cents_posted == -(2100 + 2200 + 2400)
    assert [e["usage_day"] for e in sweep.caught_up] == [d.pk for d in missed]
    prepaid_account.refresh_from_db()
    assert prepaid_account.balance_cents == 10_000 - 500 - 6700

    again = deductions_catch_up(now=NOW)

    assert again.days_caught_up == 0 and again.cents_posted == 0
    assert CreditTransaction.objects.filter(kind="usage").count() == 4
    prepaid_account.refresh_from_db()
    assert prepaid_account.balance_cents == 10_000 - 500 - 6700
    assert DeductionSweep.objects.count() == 2


def test_a_day_recollected_at_a_new_cost_gets_only_the_difference(prepaid_account):
    cluster = Cluster.objects.create(name="c1", hopsworks_url="https://c1.test/api")
    day = _day(prepaid_account, cluster, date(2026, 11, 22), 300)
    credits_deduct_usage(account=prepaid_account, usage_ref=f"usage_day:{day.pk}", cost_cents=300)
    UsageDay.objects.filter(pk=day.pk).update(cost_cents=450, cost=Decimal("4.50"))

    sweep = deductions_catch_up(now=NOW)

    assert sweep.days_caught_up == 1 and sweep.cents_posted == -150
    prepaid_account.refresh_from_db()
    assert prepaid_account.balance_cents == -450


def test_the_command_prints_the_days_caught_up(prepaid_account, capsys):
    cluster = Cluster.objects.create(name="c1", hopsworks_url="https://c1.test/api")
    three_days_ago = billing_today(timezone.now()) - timedelta(days=3)
    day = _day(prepaid_account, cluster, three_days_ago, 100)

    call_command("catch_up_deductions")

    out = capsys.readouterr().out
    assert f"caught up usage day {day.pk} ({three_days_ago}" in out
    assert "1 prepaid days checked, 1 caught up." in out


def test_staff_see_the_sweeps_in_the_admin(client, staff, prepaid_account):
    deductions_catch_up(now=NOW)
    client.force_login(staff)
    response = client.get("/admin/usage/deductionsweep/")
    assert response.status_code == 200 and b"Days caught up" in response.content
