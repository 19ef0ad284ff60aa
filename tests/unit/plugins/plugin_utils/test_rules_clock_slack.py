"""The agent's own failed health checks against the last boot, one second on each side (issue 22): a failure the
agent recorded up to a minute before the boot it reports after counts (its first checks run as the VM finishes
booting), one a second older is from before the boot and says nothing now."""

from __future__ import annotations

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _rules as r

BOOT = "2026-12-07T04:00:00Z"


def failed(last_checked: str | None) -> dict[str, list[str]]:
    check = {"name": "DomainJoinedCheck", "failed": True, "result": "HealthCheckFailed", "last_checked": last_checked}
    return r.failed_health_checks(r.Host({"boot_time": BOOT, "agent": {"health_checks": [check]}}, None))


@pytest.mark.parametrize("when", ["2026-12-07T03:59:00Z", "2026-12-07T04:00:00Z", "2026-12-07T05:00:00Z", None])
def test_a_failure_from_a_minute_before_the_boot_or_later_counts(when):
    shown = f" at {when}" if when else ""
    assert failed(when) == {
        "DomainJoinedCheck": [
            f"agent's AgentHealthCheckReport: DomainJoinedCheck HealthCheckResult=HealthCheckFailed{shown}"
        ]
    }


@pytest.mark.parametrize("when", ["2026-12-07T03:58:59Z", "2026-12-06T04:00:00Z"])
def test_a_failure_older_than_a_minute_before_the_boot_is_stale(when):
    assert failed(when) == {}
