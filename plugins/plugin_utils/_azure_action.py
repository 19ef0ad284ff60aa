"""The common shape of the host pool modules: validate, build the Azure client, do the work, report errors."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

from ansible.plugins.action import ActionBase

from ._azure import AUTH_OPTIONS, AzureError, AzureSettings, PartialChange, client, preload_sdk, settings_from

preload_sdk()  # in the controller's main process, where the strategy loads the plugin: once a run, not per worker


class AzureAction(ActionBase):  # type: ignore[misc]
    """Runs on the controller; talks to Azure, never to the task's host."""

    TRANSFERS_FILES = False
    _requires_connection = False
    OPTIONS: ClassVar[dict[str, Any]] = {}
    SUPPORTS_CHECK_MODE = True

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = self.SUPPORTS_CHECK_MODE
        self._supports_async = False
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec={**AUTH_OPTIONS, **self.OPTIONS})
        try:
            settings = settings_from(args)
            self.check_arguments(args)
            answer = self.work(args, settings, client(settings))
        except PartialChange as exc:  # it failed after changing something: say so, and what
            return {**result, **exc.done, "failed": True, "changed": True, "msg": str(exc)}
        except AzureError as exc:
            return {**result, "failed": True, "msg": str(exc)}
        return {**result, **answer}

    def check_arguments(self, args: dict[str, Any]) -> None:
        """Refuse bad input before any call to Azure (override)."""

    @abstractmethod
    def work(self, args: dict[str, Any], settings: AzureSettings, client: Any) -> dict[str, Any]:
        """The module's work with the SDK client (building it makes no call to Azure)."""
