"""agent_registration's wait options, one value on each side of each bound (issue 22): how long a registration is
waited for and how often the broker is asked are checked before anything is sent to a host."""

from __future__ import annotations

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._change import check_wait
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import PlanError


@pytest.mark.parametrize(("wait", "poll"), [(0, 1), (3600, 300), (600, 10)])
def test_the_bounds_are_accepted(wait, poll):
    assert check_wait({"wait_seconds": wait, "poll_seconds": poll}) is None


@pytest.mark.parametrize("wait", [-1, 3601])
def test_wait_seconds_outside_0_to_3600_is_refused_naming_the_value(wait):
    with pytest.raises(PlanError) as refused:
        check_wait({"wait_seconds": wait, "poll_seconds": 10})
    assert str(refused.value) == f"wait_seconds must be between 0 and 3600, got {wait}"


@pytest.mark.parametrize("poll", [0, 301])
def test_poll_seconds_outside_1_to_300_is_refused_naming_the_value(poll):
    with pytest.raises(PlanError) as refused:
        check_wait({"wait_seconds": 600, "poll_seconds": poll})
    assert str(refused.value) == f"poll_seconds must be between 1 and 300, got {poll}"
