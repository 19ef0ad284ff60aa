"""The remediation modules read the host's state from the diagnosis just made (its capture) instead of probing
again: the plan made from the capture is the plan made from the module's own probe, and a capture that is old,
partial, failed or of another runtime is not used."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest
from chainlab import HOST, OPTIONS, _answer, lab

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _facts as f
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _plans as p
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _runtime as rt
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._change import answers_from_capture
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._replay import capture

NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def diagnosis_capture(model: Any, state: Any, when: datetime.datetime = NOW) -> dict[str, Any]:
    """What diagnose(return_capture=true) returns: every subset gathered in one runtime call, secret-free."""
    operations = f.plan(frozenset(f.SUBSETS), OPTIONS)
    answer = {"version": rt.RUNTIME_VERSION, "results": [_answer(model, state, op) for op in operations]}
    return capture(HOST, OPTIONS, operations, answer, when)


def probed(model: Any, state: Any, probe: list[rt.Operation]) -> dict[str, rt.OperationResult]:
    """The module's own probe on the same host."""
    results = [_answer(model, state, op) for op in probe]
    return rt.read_results({"version": rt.RUNTIME_VERSION, "results": results}, probe)


def same_plan(left: p.Plan, right: p.Plan) -> None:
    assert (left.summary(), left.facts, left.notes) == (right.summary(), right.facts, right.notes)
    assert [c.operation for c in left.changes] == [c.operation for c in right.changes]


CASES = [
    ("bootloader_stopped", p.probe_boot_loader, lambda r: p.plan_boot_loader(r, "started", 10)),
    ("agent_heartbeat_lost", p.probe_boot_loader, lambda r: p.plan_boot_loader(r, "restarted", 10)),
    ("invalid_registration_token", p.probe_registration, lambda r: p.plan_registration(r, "k" * 40)),
    ("endpoint_not_found", p.probe_registration, lambda r: p.plan_registration(r, "k" * 40, reregister=True)),
    ("stack_listener_broken", p.probe_stack_listener, p.plan_stack_listener),
    ("stack_health_check_failed", p.probe_stack_listener, p.plan_stack_listener),
]


@pytest.mark.parametrize(("fault", "probe", "plan"), CASES, ids=[case[0] for case in CASES])
def test_the_plan_from_the_diagnosis_is_the_plan_from_the_modules_own_probe(fault, probe, plan):
    model, state = lab(fault)
    read, how = answers_from_capture(diagnosis_capture(model, state), probe(), NOW, 120)
    assert read is not None, how
    assert set(read) == {op.id for op in probe()} and how == "read from the diagnosis gathered 0 s ago"
    same_plan(plan(read), plan(probed(model, state, probe())))
    assert plan(read).changed  # the fault is there to fix


def test_a_registration_token_never_travels_in_the_capture_yet_the_plan_sees_it_set():
    model, state = lab("invalid_registration_token")
    document = diagnosis_capture(model, state)
    token = state.registry.get_data(r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDInfraAgent", "RegistrationToken")
    assert len(token) > 100 and token not in str(document)
    read, _how = answers_from_capture(document, p.probe_registration(), NOW, 120)
    assert read is not None and p.plan_registration(read, "k" * 40).facts["token_set_before"] is True


def test_a_healthy_host_read_from_the_capture_needs_nothing():
    model, state = lab()
    read, _how = answers_from_capture(diagnosis_capture(model, state), p.probe_boot_loader(), NOW, 120)
    assert read is not None and not p.plan_boot_loader(read).changed


def broken_capture(change: str) -> dict[str, Any]:
    model, state = lab("bootloader_stopped")
    document = copy.deepcopy(diagnosis_capture(model, state))
    results = document["answer"]["results"]
    if change == "failed":
        entry = next(r for r in results if r["id"] == "services.RDAgentBootLoader")
        entry.update(ok=False, error="Cannot find any service with service name 'RDAgentBootLoader'.")
    elif change == "missing":
        document["request"]["operations"] = [
            op for op in document["request"]["operations"] if op["id"] != "services.RDAgentBootLoader"
        ]
    elif change == "version":
        document["answer"]["version"] = "1.0.0"
    elif change == "error":
        document["answer"]["error"] = "the runtime stopped: out of memory"
    elif change == "format":
        document["format"] = "something else"
    elif change == "time":
        document["gathered_at"] = "yesterday"
    return document


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("failed", "the capture has no answer to probe.bootloader"),
        ("missing", "the capture has no answer to probe.bootloader"),
        ("version", f"the capture is of runtime '1.0.0', not {rt.RUNTIME_VERSION}"),
        ("error", "the capture's runtime call failed"),
        ("format", "the capture is not a diagnosis capture"),
        ("time", "the capture says no time"),
    ],
)
def test_a_capture_that_does_not_answer_everything_is_not_used(change, why):
    assert answers_from_capture(broken_capture(change), p.probe_boot_loader(), NOW, 120) == (None, why)


def test_an_old_capture_is_not_used_the_module_probes_the_host_now():
    model, state = lab("bootloader_stopped")
    old = diagnosis_capture(model, state, NOW - datetime.timedelta(seconds=121))
    assert answers_from_capture(old, p.probe_boot_loader(), NOW, 120) == (
        None,
        "the capture is 121 s old (capture_max_age 120)",
    )
    assert answers_from_capture(old, p.probe_boot_loader(), NOW, 300)[0] is not None
    future = diagnosis_capture(model, state, NOW + datetime.timedelta(seconds=60))  # another clock: not trusted
    assert answers_from_capture(future, p.probe_boot_loader(), NOW, 120)[0] is None
    assert answers_from_capture(None, p.probe_boot_loader(), NOW, 120) == (None, "no capture given")


def test_a_read_of_fewer_values_does_not_answer_a_read_of_more():
    model, state = lab("bootloader_stopped")
    document = diagnosis_capture(model, state)
    wider = rt.Operation("probe.cluster", "registry_read", {**p.probe_stack_listener()[1].args, "names": ["Other"]})
    read, why = answers_from_capture(document, [wider], NOW, 120)
    assert read is None and why == "the capture has no answer to probe.cluster"
    elsewhere = rt.Operation("probe.bootloader", "service_query", {"name": "TermService2"})
    assert answers_from_capture(document, [elsewhere], NOW, 120)[0] is None


@pytest.mark.parametrize(
    ("seconds", "used"),
    [(120, True), (121, False), (-5, True), (-6, False)],
    ids=["at-capture_max_age", "a-second-older", "5-s-ahead", "6-s-ahead"],
)
def test_a_capture_up_to_capture_max_age_old_or_5_s_ahead_is_used_one_second_more_is_not(seconds, used):
    """Each side of both age bounds: the controller's and the host's clocks may differ by a few seconds."""
    model, state = lab("bootloader_stopped")
    document = diagnosis_capture(model, state, NOW - datetime.timedelta(seconds=seconds))
    read, how = answers_from_capture(document, p.probe_boot_loader(), NOW, 120)
    if used:
        assert read is not None and how == f"read from the diagnosis gathered {seconds} s ago"
    else:
        assert read is None and how == f"the capture is {seconds} s old (capture_max_age 120)"


def test_each_answer_read_from_the_capture_is_the_probe_s_own_operation_whole():
    """The results carry the probe's ids and kinds (the plan and the verification look them up by id)."""
    model, state = lab("bootloader_stopped")
    probe = p.probe_stack_listener()
    read, _how = answers_from_capture(diagnosis_capture(model, state), probe, NOW, 120)
    assert read is not None
    own = probed(model, state, probe)
    assert read == {op.id: rt.OperationResult(op.id, op.op, True, own[op.id].result, None) for op in probe}
