from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from accounts.models import User
from accounts.services import cluster_assign
from clusters.models import Cluster
from clusters.services import FleetFull


def _cluster(name: str, capacity: int, active: bool = True) -> Cluster:
    return Cluster.objects.create(
        name=name, hopsworks_url=f"https://{name}.test/api", capacity=capacity, is_active=active
    )


def _user(n: int, cluster: Cluster | None = None) -> User:
    return User.objects.create_user(f"u{n}@example.com", None, cluster=cluster)


def test_assignment_picks_the_active_cluster_with_fewest_users(db):
    busy = _cluster("busy", 10)
    quiet = _cluster("quiet", 10)
    _cluster("off", 10, active=False)
    _user(1, busy)
    _user(2, busy)
    _user(3, quiet)

    assert cluster_assign(user=_user(4)) == quiet


def test_full_clusters_are_skipped_and_a_full_fleet_is_a_clear_error(db):
    small = _cluster("small", 1)
    big = _cluster("big", 3)
    _user(1, small)
    assert cluster_assign(user=_user(2)) == big
    assert cluster_assign(user=_user(3)) == big
    assert cluster_assign(user=_user(4)) == big

    with pytest.raises(FleetFull, match="No active cluster has free capacity"):
        cluster_assign(user=_user(5))
    assert User.objects.get(email="u5@example.com").cluster is None


def test_an_assigned_user_keeps_their_cluster(db):
    first = _cluster("first", 5)
    user = _user(1, first)
    _cluster("empty", 5)

    assert cluster_assign(user=user) == first


@pytest.mark.django_db(transaction=True)
def test_two_signups_at_once_cannot_overfill_the_last_seat():
    """A takes the last seat and holds its transaction open; B must wait for A's commit and
    then see the fleet full (without the lock B would count the seat as free)."""
    cluster = _cluster("one-seat", 1)
    first, second = _user(1), _user(2)
    first_assigned, release = threading.Event(), threading.Event()
    outcomes: dict[str, str] = {}

    def assign_and_hold() -> None:
        try:
            with transaction.atomic():
                cluster_assign(user=first)
                first_assigned.set()
                release.wait(timeout=5)
            outcomes["first"] = "assigned"
        finally:
            connection.close()

    def assign() -> None:
        try:
            first_assigned.wait(timeout=5)
            cluster_assign(user=second)
            outcomes["second"] = "assigned"
        except FleetFull:
            outcomes["second"] = "full"
        finally:
            connection.close()

    threads = [threading.Thread(target=assign_and_hold), threading.Thread(target=assign)]
    for t in threads:
        t.start()
    first_assigned.wait(timeout=5)
    threads[1].join(timeout=0.3)
    blocked = threads[1].is_alive()
    release.set()
    for t in threads:
        t.join()

    assert blocked, "the second assignment did not wait for the first"
    assert outcomes == {"first": "assigned", "second": "full"}
    assert User.objects.filter(cluster=cluster).count() == 1
