"""Hopsworks going down in the middle of a signup's provisioning: the run waits with what it
finished kept, and resumes without creating anything twice."""

from __future__ import annotations

import pytest

from accounts.models import ProvisioningStatus as S
from accounts.services import provisioning_run, signup_register
from tests.accounts.fakes import (  # noqa: F401
    assert_one_of_everything,
    cluster,
    fake_http,
    hopsworks,
    stripe_fake,
)

pytestmark = pytest.mark.django_db


def test_hopsworks_down_after_the_user_is_created_resumes_with_one_of_everything(
    hopsworks, stripe_fake, cluster  # noqa: F811
):
    user = signup_register(
        auth0_subject="auth0|dana", email="dana@example.com", given_name="D", family_name="A"
    )
    # The user create reaches Hopsworks, then it goes down before the project is made.
    hopsworks.lose_answer_of = {"POST /admin/users"}
    assert provisioning_run(user=user).status == S.WAITING
    hopsworks.lose_answer_of = set()
    hopsworks.down = True
    for _ in range(3):  # the retries while it is down change nothing
        run = provisioning_run(user=user)
        assert (run.status, run.current_step) == (S.WAITING, "hopsworks_user")

    hopsworks.down = False
    run = provisioning_run(user=user)
    assert run.status == S.DONE
    assert_one_of_everything(hopsworks, stripe_fake)
    assert provisioning_run(user=user).status == S.DONE  # a late retry does nothing
    assert hopsworks.user_creates == 1 and hopsworks.project_creates == 1
