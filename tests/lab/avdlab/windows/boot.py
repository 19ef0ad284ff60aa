"""A (re)boot of a session host: what Windows does between shutdown and the logon screen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import known as k
from .agent import bootloader_started
from .listeners import snapshot
from .registry import REG_DWORD, REG_SZ
from .state import AUTOMATIC, RUNNING, HostState

if TYPE_CHECKING:
    from ..avd import AvdService

# Automatic services start in this order; the boot loader last, as it needs the rest.
START_ORDER = (k.TERMSERVICE, "SessionEnv", "UmRdpService", k.AGENT_SERVICE, k.BOOTLOADER_SERVICE)


def boot(state: HostState, avd: AvdService, now: float) -> None:
    state.boot_time = now
    state.shutdown_at = None
    # Session Manager performs the pending file renames early in boot; servicing finishes and drops its markers.
    registry = state.registry
    if registry.get_data(k.SESSION_MANAGER, "PendingFileRenameOperations") is not None:
        registry.delete_value(k.SESSION_MANAGER, "PendingFileRenameOperations")
    for marker in (k.CBS_REBOOT_PENDING, k.WU_REBOOT_REQUIRED):
        if registry.key_exists(marker):
            registry.delete_key(marker)
    # An installed .NET Framework takes over at the restart its installer asked for.
    if state.pending_dotnet_release is not None:
        registry.set(k.NDP_V4_FULL, "Release", REG_DWORD, state.pending_dotnet_release)
        registry.set(k.NDP_V4_FULL, "Version", REG_SZ, k.DOTNET48_VERSION)
        state.pending_dotnet_release = None
    state.sessions = []  # a restart signs every user out
    for service in state.services.values():
        service.reset()
    # Listener settings (WinStations flags, installed stacks) take effect now.
    state.active_listeners = snapshot(state)
    order = {name.lower(): index for index, name in enumerate(START_ORDER)}
    for service in sorted(state.services.values(), key=lambda s: order.get(s.name.lower(), 0)):
        if service.start_type == AUTOMATIC:
            service.state = RUNNING
            if service.name.lower() == k.BOOTLOADER_SERVICE.lower():
                bootloader_started(state, avd, now)
    # LogonUI creates this volatile key when the logon screen is ready (win_reboot waits for it).
    state.registry.create_key(k.WINLOGON_AUTOLOGON_CHECKED)
