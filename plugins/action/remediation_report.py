# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.remediation_report (docs in plugins/modules). Runs on the controller."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._remediation import (
    REMEDIATION,
    RemediationInputError,
    build_report,
    failing_message,
    host_outcome,
    rollout_stop,
    summary_lines,
    write_reports,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._run_reports import KINDS, run_outcomes

ARGUMENT_SPEC: dict[str, Any] = {
    "before": {"type": "dict", "required": True},
    "after": {"type": "dict", "required": True},
    "plans": {"type": "dict", "default": {}},
    "runs": {"type": "dict", "default": {}},
    "report_dir": {"type": "path", "required": True},
    "max_fail_percentage": {"type": "int", "default": 100},
    "kind": {"type": "str", "default": "remediation", "choices": ["remediation", "reinstall", "move"]},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True  # writes only local report files, which --check users still want
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        check_mode = bool(self._task.check_mode)
        kind = KINDS.get(args["kind"], REMEDIATION)
        try:
            if args["kind"] == "remediation":
                stopped = rollout_stop(args["runs"], [], args["max_fail_percentage"])
                hosts = sorted(set(args["before"]) | set(args["after"]))
                entries = {
                    host: host_outcome(
                        args["before"].get(host),
                        args["after"].get(host),
                        args["plans"].get(host),
                        args["runs"].get(host),
                        check_mode,
                        stopped,
                    )
                    for host in hosts
                }
            else:
                entries = run_outcomes(
                    args["kind"], args["before"], args["after"], args["runs"], args["max_fail_percentage"], check_mode
                )
        except RemediationInputError as exc:
            raise AnsibleActionFail(str(exc)) from None
        report = build_report(entries, datetime.datetime.now(datetime.UTC), check_mode, kind)
        directory = Path(args["report_dir"]).resolve()
        files = write_reports(report, directory, kind)
        return {
            **result,
            "changed": False,
            "summary": report["summary"],
            "files": files,
            "summary_lines": summary_lines(report, str(directory), kind),
            # Not ``failed``: a non-empty list there would fail this task without a message and hide the summary.
            "failed_hosts": [h for h, e in report["hosts"].items() if e["outcome"] in ("failed", "refused")],
            "not_fixed_hosts": [h for h, e in report["hosts"].items() if e["outcome"] == "not_fixed"],
            "failing_message": failing_message(report, kind),
        }
