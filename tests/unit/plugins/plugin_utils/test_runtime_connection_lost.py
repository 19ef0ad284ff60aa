"""A command whose connection drops mid-way fails saying what that means and what to do, not with the HTTP
library's words alone (issue 19, item 8: Ansible ends the command on the host when its connection fails)."""

from __future__ import annotations

import pytest
import requests

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _runtime as r

OPS = [r.Operation("apply.stop.BITS", "service_control", {"name": "BITS", "state": "stopped"})]


class DroppingRunner:
    def _low_level_execute_command(self, cmd, **kwargs):
        raise requests.exceptions.ConnectionError(
            "('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))"
        )


def test_a_dropped_connection_says_the_command_ended_there_and_to_run_again():
    with pytest.raises(r.RuntimeCallError) as raised:
        r.execute(DroppingRunner(), OPS)
    message = str(raised.value)
    assert message.startswith(
        "the connection to the host dropped while the avdops runtime ran (('Connection aborted.', RemoteDisconnected("
    )
    assert "Ansible ended the command there, so what it had not done yet was not done" in message
    assert "(operations sent: apply.stop.BITS)" in message
    assert "Check the host's network and WinRM, then run again" in message
    assert isinstance(raised.value.__cause__, requests.exceptions.ConnectionError)
