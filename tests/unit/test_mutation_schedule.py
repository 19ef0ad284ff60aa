"""`make mutation`'s order (tests/mutation/mutation.py): the costliest target first by its last finished run, a
target never measured before all, and a failed run's figures never kept."""

from __future__ import annotations

import pytest

from tests.mutation import mutation


@pytest.fixture
def stage(tmp_path, monkeypatch):
    monkeypatch.setattr(mutation, "STAGE", tmp_path)
    for target in ("a/_big.py", "a/_small.py", "a/_new.py"):
        (tmp_path / mutation.Path(target).stem).mkdir()
    return tmp_path


def test_the_costliest_target_goes_first_and_one_never_measured_before_all(stage):
    mutation.record_cost("a/_big.py", 300, 290, 0)
    mutation.record_cost("a/_small.py", 20, 19, 0)
    assert mutation.longest_first(("a/_small.py", "a/_big.py", "a/_new.py")) == [
        "a/_new.py",
        "a/_big.py",
        "a/_small.py",
    ]
    assert (stage / "_big" / "seconds").read_text(encoding="utf-8") == "300 290\n"


def test_a_failed_run_drops_the_targets_record_so_it_is_not_scheduled_last(stage):
    mutation.record_cost("a/_big.py", 300, 290, 0)
    mutation.record_cost("a/_small.py", 20, 19, 0)
    mutation.record_cost("a/_big.py", 4, 3, 1)  # failed in seconds (e.g. its venv changed under it)
    assert not (stage / "_big" / "seconds").exists()
    assert mutation.longest_first(("a/_small.py", "a/_big.py")) == ["a/_big.py", "a/_small.py"]
