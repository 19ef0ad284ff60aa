# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.diagnosis_report (docs in plugins/modules). Runs on the controller."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._image import IMAGE_CHECKS
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._image import REPORT_STEM as IMAGE_REPORT_STEM
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._image import report_entry as image_report_entry
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._merge import merge_entries, merged_run
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._pool import add_drift
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._reports import (
    FAIL_ON,
    ReportError,
    build_report,
    entries_from,
    hosts_at_or_above,
    run_failure,
    summary_lines,
    write_reports,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._rules import pool_from_hostvars

ARGUMENT_SPEC: dict[str, Any] = {
    "results": {"type": "dict"},
    "merge": {"type": "list", "elements": "path"},
    "kind": {"type": "str", "default": "diagnosis", "choices": ["diagnosis", "image"]},
    "report_dir": {"type": "path", "required": True},
    "fail_on": {"type": "str", "default": "none", "choices": list(FAIL_ON)},
    "fail_on_stopped": {"type": "bool", "default": False},
    "fail_on_incomplete": {"type": "bool", "default": True},
    "target": {"type": "str"},
}


def _pools(names: list[str], task_vars: Mapping[str, Any]) -> dict[str, dict[str, Any] | None]:
    """Each host's host pool data from its variables: how a stopped or unreachable host still shows its pool view."""
    hostvars = task_vars.get("hostvars") or {}
    pools: dict[str, dict[str, Any] | None] = {}
    for name in names:
        variables = hostvars.get(name)
        pools[name] = pool_from_hostvars(variables) if isinstance(variables, Mapping) else None
    return pools


def _slice_reports(paths: list[str]) -> list[tuple[str, Mapping[str, Any]]]:
    reports = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ReportError(f"cannot read slice report {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ReportError(f"slice report {path} is not JSON: {exc}") from None
        reports.append((str(path), data))
    return reports


def _mapping(name: str, value: Any) -> Mapping[str, Any] | None:
    if value is not None and not isinstance(value, Mapping):
        raise ReportError(f"results[{name!r}]: expected the host's registered image_check result (a mapping)")
    return value


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True  # writes only local report files, which --check users still want
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        results = args["results"]
        image = args["kind"] == "image"
        if (results is None) == (args["merge"] is None):
            raise AnsibleActionFail(
                "diagnosis_report: give either results (one run) or merge (slice reports), not both"
            )
        if args["merge"] is not None and image:
            raise AnsibleActionFail("diagnosis_report: merge takes diagnosis reports (kind=diagnosis)")
        run = {"target": args["target"], "fail_on": args["fail_on"]}
        try:
            if args["merge"] is not None:
                slices = _slice_reports(args["merge"])
                entries = merge_entries(slices)
                run = merged_run(slices, args["fail_on"])
            elif image:
                entries = {str(name): image_report_entry(_mapping(name, value)) for name, value in results.items()}
            else:
                entries = add_drift(entries_from(results, _pools([str(n) for n in results], task_vars or {})))
        except ReportError as exc:
            raise AnsibleActionFail(f"diagnosis_report: {exc}; no report was written") from None
        report = build_report(entries, datetime.datetime.now(datetime.UTC), run)
        report["run"]["failure"] = run_failure(report, args["fail_on"])
        directory = Path(args["report_dir"]).resolve()  # relative to where ansible-playbook runs
        if image:
            files = write_reports(report, directory, IMAGE_REPORT_STEM, IMAGE_CHECKS, html=False)
        else:
            files = write_reports(report, directory)
        names = ", ".join(Path(path).name for path in files.values())
        return {
            **result,
            "changed": False,
            "summary": report["summary"],
            "files": files,
            "summary_lines": summary_lines(report, str(directory), names, image=True)
            if image
            else summary_lines(report, str(directory)),
            "over_threshold": hosts_at_or_above(
                report,
                args["fail_on"],
                fail_on_stopped=args["fail_on_stopped"],
                fail_on_incomplete=args["fail_on_incomplete"],
            ),
            "run_failure": report["run"]["failure"],
        }
