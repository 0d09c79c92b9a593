"""Enqueueing from requests: recorded first, sent after commit, a broker outage delays work
and never loses it or fails the request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from jobs.models import PendingTask
from jobs.services import (
    BrokerUnavailable,
    broker_check,
    pending_tasks_oldest,
    pending_tasks_sweep,
    task_enqueue,
    task_send,
)
from tests.fakes.broker import broker_outage

pytestmark = pytest.mark.django_db

TASK = "billing.tasks.subscription_ensure"  # queued only: no worker runs it here


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """The test's transaction never commits: run the on-commit callbacks as a commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def later(minutes=2):
    return timezone.now() + timedelta(minutes=minutes)


def test_a_recorded_task_is_sent_after_commit_and_marked_sent(broker_queue, committed):
    with committed():
        row = task_enqueue(TASK, args=[1])
        assert broker_queue.messages() == []  # nothing leaves before the commit
    row.refresh_from_db()
    assert row.status == PendingTask.Status.SENT
    assert [(m.task, m.args) for m in broker_queue.messages()] == [(TASK, [1])]


def test_a_rolled_back_transaction_records_and_sends_nothing(broker_queue, committed):
    with pytest.raises(RuntimeError), committed(), transaction.atomic():
        task_enqueue(TASK, args=[1])
        raise RuntimeError("the change failed")
    assert PendingTask.objects.count() == 0
    assert broker_queue.messages() == []


def test_with_the_broker_down_the_row_stays_pending_with_the_error(broker_down, committed):
    with committed():
        row = task_enqueue(TASK, args=[1])
    row.refresh_from_db()
    assert (row.status, row.attempts) == (PendingTask.Status.PENDING, 1)
    assert "unreachable" in row.last_error


def test_the_sweeper_sends_what_the_outage_left_pending(broker_queue, committed):
    with broker_outage(), committed():
        task_enqueue(TASK, args=[7])
    assert pending_tasks_sweep() == 0  # younger than a minute: maybe still on its way
    assert pending_tasks_sweep(now=later()) == 1
    assert pending_tasks_sweep(now=later()) == 0  # sent once
    assert [(m.task, m.args) for m in broker_queue.messages()] == [(TASK, [7])]
    assert PendingTask.objects.get().status == PendingTask.Status.SENT


def test_the_sweeper_keeps_rows_pending_while_the_broker_is_down(broker_down):
    PendingTask.objects.create(task_name=TASK, args=[1])
    assert pending_tasks_sweep(now=later()) == 0
    row = PendingTask.objects.get()
    assert (row.status, row.attempts) == (PendingTask.Status.PENDING, 1)
    assert pending_tasks_oldest() is not None


def test_the_same_pending_key_is_one_row(broker_down, committed):
    with committed():
        first = task_enqueue(TASK, args=[1], key="k")
        second = task_enqueue(TASK, args=[1], key="k")
    assert first.pk == second.pk
    assert PendingTask.objects.count() == 1


def test_send_now_raises_broker_unavailable_when_the_broker_is_down(broker_down):
    with pytest.raises(BrokerUnavailable):
        task_send(TASK, args=[1])


def test_sends_share_one_kept_connection_and_survive_an_outage_between_them(broker_queue):
    first = task_send(TASK, args=[1])
    with broker_outage(), pytest.raises(BrokerUnavailable):
        task_send(TASK, args=[2])
    second = task_send(TASK, args=[3])  # the broker back: a fresh connection
    third = task_send(TASK, args=[4])

    assert all(isinstance(task_id, str) and task_id for task_id in (first, second, third))
    assert len({first, second, third}) == 3
    assert [m.args for m in broker_queue.messages()] == [[1], [3], [4]]


def test_the_broker_check_says_whether_the_broker_answers(broker_queue):
    assert broker_check() == "ok"


def test_the_broker_check_names_the_failure(broker_down):
    assert broker_check().startswith("unreachable")


def test_switching_prepaid_off_records_the_subscription_follow_up_with_the_switch(
    prepaid_account, staff, broker_down, committed
):
    from billing.payments.subscriptions import postpaid_switch

    with committed():
        postpaid_switch(account=prepaid_account, changed_by=staff, reason="invoices")
    prepaid_account.refresh_from_db()
    assert prepaid_account.mode == "postpaid"
    follow_up = PendingTask.objects.get()
    assert (follow_up.task_name, follow_up.args) == (TASK, [prepaid_account.pk])
    assert follow_up.status == PendingTask.Status.PENDING  # the broker is down: kept for later


def test_a_failed_switch_records_no_follow_up(prepaid_account, staff, committed):
    from billing.payments.subscriptions import postpaid_switch

    with pytest.raises(RuntimeError), committed(), transaction.atomic():
        postpaid_switch(account=prepaid_account, changed_by=staff, reason="invoices")
        raise RuntimeError("the staff action failed after the switch")
    prepaid_account.refresh_from_db()
    assert prepaid_account.mode == "prepaid"
    assert PendingTask.objects.count() == 0
