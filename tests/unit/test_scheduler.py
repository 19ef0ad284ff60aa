"""The xdist scheduler's order (tests/conftest.py): the longest measured unit first, then the others by kind; and
what --store-durations measures (each unit's duration and CPU)."""

from __future__ import annotations

import contextlib
import json
import time
from types import SimpleNamespace

from tests.conftest import CpuMeter, DurationRecorder, read_durations, schedule_key, store_durations, work_unit

MOLECULE = "tests/integration/test_molecule_scenarios.py"


def order(nodeids: list[str], durations: dict[str, float]) -> list[str]:
    return sorted(nodeids, key=lambda nodeid: schedule_key(nodeid, durations))


def test_measured_units_go_longest_first_and_a_units_tests_stay_together_in_their_order():
    nodeids = [
        "tests/unit/test_a.py::test_one",
        "tests/integration/test_short.py::test_one",
        "tests/integration/test_short.py::test_two",
        "tests/integration/test_long.py::test_one",
        "tests/integration/test_long.py::test_two",
        "tests/lab/tests/test_lab.py::test_one",
    ]
    durations = {"tests/integration/test_short.py": 80.0, "tests/integration/test_long.py": 400.0}
    assert order(nodeids, durations) == [
        "tests/integration/test_long.py::test_one",
        "tests/integration/test_long.py::test_two",
        "tests/integration/test_short.py::test_one",
        "tests/integration/test_short.py::test_two",
        "tests/lab/tests/test_lab.py::test_one",
        "tests/unit/test_a.py::test_one",
    ]


def test_units_not_measured_follow_the_measured_ones_by_kind_and_a_short_unit_test_may_lead():
    nodeids = [
        "tests/unit/test_slow_unit.py::test_one",
        "tests/integration/test_new.py::test_one",
        f"{MOLECULE}::test_scenario[dotnet]",
        "tests/integration/test_unkind_all_at_once.py::test_one",
    ]
    assert order(nodeids, {}) == [
        "tests/integration/test_unkind_all_at_once.py::test_one",
        f"{MOLECULE}::test_scenario[dotnet]",
        "tests/integration/test_new.py::test_one",
        "tests/unit/test_slow_unit.py::test_one",
    ]
    assert order(nodeids, {"tests/unit/test_slow_unit.py": 0.5})[0] == "tests/unit/test_slow_unit.py::test_one"


def test_each_molecule_scenario_is_a_unit_measured_on_its_own():
    scenarios = [f"{MOLECULE}::test_scenario[dotnet]", f"{MOLECULE}::test_scenario[reinstall]"]
    assert [work_unit(nodeid) for nodeid in scenarios] == scenarios
    assert order(scenarios, {scenarios[1]: 90.0, scenarios[0]: 40.0}) == scenarios[::-1]


def test_a_run_updates_the_units_it_ran_keeps_the_others_and_writes_them_longest_first(tmp_path):
    path = tmp_path / "durations.json"
    path.write_text(json.dumps({"tests/integration/test_a.py": 100.0, "tests/integration/test_b.py": 50.0}))
    store_durations({"tests/integration/test_b.py": 120.04, "tests/unit/test_c.py": 1.26}, path)
    assert list(json.loads(path.read_text()).items()) == [
        ("tests/integration/test_b.py", 120.0),
        ("tests/integration/test_a.py", 100.0),
        ("tests/unit/test_c.py", 1.3),
    ]


def test_a_missing_or_malformed_file_measures_nothing(tmp_path):
    assert read_durations(tmp_path / "absent.json") == {}
    (tmp_path / "list.json").write_text("[1, 2]")
    assert read_durations(tmp_path / "list.json") == {}
    (tmp_path / "bad.json").write_text("{not json")
    assert read_durations(tmp_path / "bad.json") == {}
    (tmp_path / "mixed.json").write_text(json.dumps({"tests/unit/test_a.py": 2, "tests/unit/test_b.py": "slow"}))
    assert read_durations(tmp_path / "mixed.json") == {"tests/unit/test_a.py": 2.0}


def test_the_recorder_sums_each_units_cpu_from_its_reports_phases():
    recorder = DurationRecorder()
    module = "tests/integration/test_move.py"
    for nodeid, cpu in ((f"{module}::test_a", 2.5), (f"{module}::test_a", 0.5), (f"{module}::test_b", 1.0)):
        recorder.pytest_runtest_logreport(SimpleNamespace(nodeid=nodeid, duration=1.0, user_properties=[("cpu", cpu)]))
    recorder.pytest_runtest_logreport(
        SimpleNamespace(nodeid="tests/unit/test_x.py::t", duration=0.2, user_properties=[])
    )
    assert recorder.cpu == {module: 4.0, "tests/unit/test_x.py": 0.0}
    assert recorder.durations == {module: 3.0, "tests/unit/test_x.py": 0.2}


def test_the_cpu_meter_gives_each_phase_what_it_spent_since_the_last():
    meter = CpuMeter()
    busy_until = time.process_time() + 0.05
    while time.process_time() < busy_until:
        pass
    report = SimpleNamespace(user_properties=[])
    hook = meter.pytest_runtest_makereport(None, None)
    next(hook)
    with contextlib.suppress(StopIteration):
        hook.send(report)
    ((name, spent),) = report.user_properties
    assert name == "cpu" and 0.05 <= spent < 1.0
