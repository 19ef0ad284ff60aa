"""Why a re-registration did not hold, on each side of the boot loader's state (issue 22): a stopped boot loader
points at the agent's event 3277 (the article: it stops after a failed registration), a running one at waiting
longer; a registration still under way is only reported while the boot loader runs."""

from __future__ import annotations

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _plans as p

STOPPED = "the boot loader stopped: the agent's event 3277 in the Application log says why (run diagnose)"
TRYING = (
    "the agent is still trying (Azure can take 5-10 minutes): run again later, or give it longer "
    "(wait_seconds; -e avd_registration_wait_seconds=N in the roles)"
)


def verification(bootloader: str | None, registered: bool = False) -> dict:
    return {"registered": registered, "is_registered": 0, "token_emptied": True, "bootloader": bootloader}


@pytest.mark.parametrize(("state", "why"), [("Stopped", STOPPED), (None, STOPPED), ("Running", TRYING)])
def test_why_a_registration_did_not_hold(state, why):
    assert p.registration_problem(verification(state), 90) == (
        f"the agent did not register 90 s after the boot loader restart: IsRegistered=0, RegistrationToken emptied, "
        f"RDAgentBootLoader {state}; {why}"
    )


def test_a_registration_that_held_is_no_problem_and_not_under_way():
    assert p.registration_problem(verification("Running", registered=True), 90) is None
    assert p.registration_under_way(verification("Running", registered=True)) is None


@pytest.mark.parametrize(("state", "under_way"), [("Running", True), ("Stopped", False), ("StartPending", False)])
def test_under_way_only_while_the_boot_loader_runs(state, under_way):
    found = p.registration_under_way(verification(state))
    expected = (
        f"the agent has not registered yet (IsRegistered=0, RegistrationToken emptied, RDAgentBootLoader {state})"
    )
    assert found == (expected if under_way else None)


def test_a_token_left_in_the_key_is_shown_as_still_set():
    left = {**verification("Stopped"), "token_emptied": False, "is_registered": 1}
    assert p.registration_seen(left) == "IsRegistered=1, RegistrationToken still set, RDAgentBootLoader Stopped"
