# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.installer_cache (docs in plugins/modules)."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any, ClassVar

from ansible.module_utils.urls import open_url
from ansible.plugins.action import ActionBase

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._installers import (
    DEFAULT_CACHE_DIR,
    InstallerError,
    check_cache_dir,
    controller_file,
    folders_to_change,
    host_path,
    load_manifest,
    make_folders,
    probe_cache,
    summary,
    to_copy,
    verify_copies,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import RuntimeCallError, execute

DOWNLOAD_TIMEOUT = 60


def _open(url: str) -> IO[bytes]:
    response: IO[bytes] = open_url(url, validate_certs=True, timeout=DOWNLOAD_TIMEOUT, follow_redirects="safe")
    return response


class ActionModule(ActionBase):
    TRANSFERS_FILES = False  # put_file to a fixed path in the cache: no temporary folder on the host
    _requires_connection = True
    OPTIONS: ClassVar[dict[str, Any]] = {
        "manifest": {"type": "path", "required": True},
        "installers": {"type": "list", "elements": "str", "required": True},
        "cache_dir": {"type": "str", "default": DEFAULT_CACHE_DIR},
        "download_dir": {"type": "path", "default": "~/.cache/avdops/installers"},
    }

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        self._supports_async = False
        result: dict[str, Any] = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=self.OPTIONS)
        try:
            answer = self.cache(args, bool(self._task.check_mode))
        except (InstallerError, RuntimeCallError) as exc:
            answer = {"changed": False, "failed": True, "msg": str(exc)}
        return {**result, **answer}

    def cache(self, args: dict[str, Any], check_mode: bool) -> dict[str, Any]:
        cache_dir = check_cache_dir(str(args["cache_dir"]))
        manifest = load_manifest(args["manifest"])
        installers = manifest.select(args["installers"])
        download_dir = Path(args["download_dir"]).expanduser()
        # Every file checked on the controller before the host is contacted: a bad one changes nothing anywhere.
        local = {i.name: controller_file(i, manifest.path.parent, download_dir, _open) for i in installers}
        probed = execute(self, [*make_folders(cache_dir, installers, check=True), *probe_cache(cache_dir, installers)])
        secure = folders_to_change(probed)
        missing = to_copy(probed, cache_dir, installers)
        answer: dict[str, Any] = {
            "changed": bool(missing) or secure,
            "copied": [i.name for i in missing],
            "secured": secure,
            **summary(cache_dir, installers),
        }
        if not answer["changed"] or check_mode:
            return answer
        folders = execute(self, make_folders(cache_dir, installers))["apply.folders"]
        if not folders.ok:
            raise InstallerError(f"cannot create the cache folders on the host: {folders.error}")
        for installer in missing:
            self._connection.put_file(str(local[installer.name]), host_path(cache_dir, installer))
        if not missing:
            return answer  # the folders alone were made or secured: no file to read back
        problem = verify_copies(execute(self, probe_cache(cache_dir, missing, "verify.files")), cache_dir, missing)
        if problem:
            answer.update(failed=True, msg=problem)
        return answer
