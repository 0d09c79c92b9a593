from __future__ import annotations

import pytest

from accounts import runs
from accounts.models import ProvisioningStatus, SuspensionStatus

SHARED = {runs.PENDING, runs.RUNNING, runs.WAITING, runs.FAILED, runs.DONE, runs.SKIPPED}


@pytest.mark.parametrize("choices", [ProvisioningStatus, SuspensionStatus])
def test_every_run_status_set_has_the_values_the_shared_run_helpers_write(choices):
    assert SHARED <= set(choices.values)
