# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters: the diagnosis rules over facts you already have."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._rules import diagnose


def avd_diagnose(facts: Mapping[str, Any], host_pool: Mapping[str, Any] | None = None) -> dict[str, Any]:
    if not isinstance(facts, Mapping) or not isinstance(facts.get("schema_version"), int):
        raise AnsibleFilterError("avd_diagnose expects the avd_session_host facts of session_host_facts")
    diagnosis: dict[str, Any] = diagnose(facts, host_pool)
    return diagnosis


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"avd_diagnose": avd_diagnose}
