# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.diagnosis_report (docs in plugins/modules). Runs on the controller."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._image import IMAGE_CHECKS
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._image import REPORT_STEM as IMAGE_REPORT_STEM
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._image import report_entry as image_report_entry
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._pool import add_drift
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._reports import (
    FAIL_ON,
    build_report,
    host_entry,
    hosts_at_or_above,
    summary_lines,
    write_reports,
)

ARGUMENT_SPEC: dict[str, Any] = {
    "results": {"type": "dict", "required": True},
    "kind": {"type": "str", "default": "diagnosis", "choices": ["diagnosis", "image"]},
    "report_dir": {"type": "path", "required": True},
    "fail_on": {"type": "str", "default": "none", "choices": list(FAIL_ON)},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True  # writes only local report files, which --check users still want
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        image = args["kind"] == "image"
        to_entry = image_report_entry if image else host_entry
        entries = {name: to_entry(value) for name, value in args["results"].items()}
        if not image:
            entries = add_drift(entries)  # pool-level findings, over every host's versions
        report = build_report(entries, datetime.datetime.now(datetime.UTC))
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
            "summary_lines": summary_lines(report, str(directory), names if image else ""),
            "over_threshold": hosts_at_or_above(report, args["fail_on"]),
        }
