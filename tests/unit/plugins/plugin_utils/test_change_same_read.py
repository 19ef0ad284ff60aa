"""Whether a read the diagnosis made answers a module's probe (issue 22): a bool each way, as declared, for each
reason a read does not answer (another operation, another target, fewer values, a read of no values)."""

from __future__ import annotations

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._change import _same_read
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation

KEY = r"HKLM:\SOFTWARE\Microsoft\RDInfraAgent"
PROBE = Operation("probe.agent", "registry_read", {"path": KEY, "names": ["IsRegistered", "RegistrationToken"]})


def gathered(**changes: object) -> dict[str, object]:
    return {"id": "agent.rdinfra", "op": "registry_read", "path": KEY, "names": None, **changes}


def test_a_read_of_every_value_or_more_values_answers():
    assert _same_read(PROBE, gathered()) is True
    assert _same_read(PROBE, gathered(names=["registrationtoken", "ISREGISTERED", "GUID"])) is True


def test_each_read_that_does_not_answer_is_false():
    assert _same_read(PROBE, gathered(op="service_query")) is False
    assert _same_read(PROBE, gathered(names=["IsRegistered"])) is False
    assert _same_read(PROBE, gathered(path=KEY + "2")) is False
    assert (
        _same_read(Operation("probe.agent", "registry_read", {"path": KEY}), gathered(names=["IsRegistered"])) is False
    )
