"""dj-stripe's admin confirm-action route: 4xx for anything but its own POST flow."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

ACTION = "/admin/djstripe/customer/action/_resync_instances/customer/"


def test_a_plain_get_is_not_allowed(client, staff):
    client.force_login(staff)
    assert client.get(ACTION).status_code == 405


@pytest.mark.parametrize(
    "path",
    [
        "/admin/djstripe/customer/action/_resync_instances/nosuchmodel/",
        "/admin/djstripe/customer/action/_resync_instances/invoice/",
        "/admin/djstripe/customer/action/delete_everything/customer/",
        "/admin/djstripe/customer/action/_cancel/customer/",
    ],
)
def test_unknown_models_and_actions_are_not_found(client, staff, path):
    client.force_login(staff)
    assert client.post(path, {"_selected_action": ["1"]}).status_code == 404


def test_ids_that_are_not_numbers_are_refused(client, staff):
    client.force_login(staff)
    assert client.post(ACTION, {"_selected_action": ["²"]}).status_code == 400


def test_the_confirmation_post_still_works(client, staff):
    client.force_login(staff)
    response = client.post(ACTION, {"_selected_action": []})
    assert response.status_code in {200, 302}


def test_non_staff_are_sent_to_the_login(client, owner):
    client.force_login(owner)
    response = client.post(ACTION, {"_selected_action": ["1"]})
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
