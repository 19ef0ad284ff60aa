# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.user_session (docs in plugins/modules)."""

from __future__ import annotations

from typing import Any, ClassVar

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._azure import AzureError, PartialChange, call, models
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._azure_action import AzureAction
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._host_pool import (
    PoolRef,
    find_session_host,
    list_user_sessions,
)


class ActionModule(AzureAction):
    OPTIONS: ClassVar[dict[str, Any]] = {
        "session_host": {"type": "str", "required": True},
        "host_pool": {"type": "str", "required": True},
        "resource_group": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "logged_off", "disconnected"]},
        "ids": {"type": "list", "elements": "str"},
        "message_title": {"type": "str"},
        "message_body": {"type": "str"},
    }

    def check_arguments(self, args: dict[str, Any]) -> None:
        if bool(args["message_title"]) != bool(args["message_body"]):
            raise AzureError("message_title and message_body go together: give both to send a message, or neither")

    def work(self, args: dict[str, Any], settings: Any, client: Any) -> dict[str, Any]:
        pool = PoolRef(args["resource_group"], args["host_pool"])
        host = find_session_host(client, settings, pool, args["session_host"])
        if host is None:
            raise AzureError(f"session host {args['session_host']!r} is not in host pool {args['host_pool']!r}")
        name = host.name.split("/")[-1]
        sessions = list_user_sessions(client, settings, pool, name)
        known = {s["id"] for s in sessions}
        wanted = args["ids"] if args["ids"] is not None else sorted(known)
        unknown = sorted(set(wanted) - known)
        if unknown:
            raise AzureError(
                f"no user session {', '.join(unknown)} on {name}; it has {', '.join(sorted(known)) or 'none'}"
            )
        check_mode = bool(self._task.check_mode)
        messaged: list[str] = []
        acted: list[str] = []
        acted_key = "logged_off" if args["state"] == "logged_off" else "disconnected"
        try:
            for session in [s for s in sessions if s["id"] in wanted]:
                self._act(args, settings, client, pool, name, session, check_mode, messaged, acted)
        except AzureError as exc:
            if not (messaged or acted):
                raise
            done = [
                f"messaged {', '.join(messaged)}" if messaged else "",
                f"{acted_key} {', '.join(acted)}" if acted else "",
            ]
            raise PartialChange(
                f"{exc}; already done on {name}: {'; '.join(d for d in done if d)}",
                {"session_host": name, "messaged": messaged, acted_key: acted},
            ) from None
        after = sessions if check_mode or not (messaged or acted) else list_user_sessions(client, settings, pool, name)
        return {
            "changed": bool(messaged or acted),
            "session_host": name,
            "sessions": after,
            "messaged": messaged,
            acted_key: acted,
        }

    @staticmethod
    def _act(
        args: dict[str, Any],
        settings: Any,
        client: Any,
        pool: PoolRef,
        name: str,
        session: dict[str, Any],
        check_mode: bool,
        messaged: list[str],
        acted: list[str],
    ) -> None:
        """Message, then sign out or disconnect, one session; each step is recorded once it is done."""
        sid = session["id"]
        if args["message_title"]:
            message = models().SendMessage(message_title=args["message_title"], message_body=args["message_body"])
            if not check_mode:
                call(
                    f"send a message to session {sid} on {name}",
                    settings,
                    lambda: client.user_sessions.send_message(
                        pool.resource_group, pool.name, name, sid, send_message=message
                    ),
                )
            messaged.append(sid)
        if args["state"] == "logged_off":
            if not check_mode:
                call(
                    f"sign out session {sid} on {name}",
                    settings,
                    lambda: client.user_sessions.delete(pool.resource_group, pool.name, name, sid, force=True),
                )
            acted.append(sid)
        elif args["state"] == "disconnected" and session["state"] != "Disconnected":
            if not check_mode:
                call(
                    f"disconnect session {sid} on {name}",
                    settings,
                    lambda: client.user_sessions.disconnect(pool.resource_group, pool.name, name, sid),
                )
            acted.append(sid)
