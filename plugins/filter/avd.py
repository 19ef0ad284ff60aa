# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters: the diagnosis rules over facts you already have."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._rules import diagnose
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._validate import (
    InputError,
    pool_counts,
    validate_facts,
    validate_pool,
)


def avd_diagnose(facts: Mapping[str, Any], host_pool: Mapping[str, Any] | None = None) -> dict[str, Any]:
    try:
        validate_facts(facts)
        validate_pool(host_pool)
    except InputError as exc:
        raise AnsibleFilterError(f"avd_diagnose: {exc}") from None
    diagnosis: dict[str, Any] = diagnose(facts, pool_counts(host_pool))
    return diagnosis


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"avd_diagnose": avd_diagnose}
