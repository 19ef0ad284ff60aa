"""`molecule ARGS`, as the molecule command runs it, with one cost less: molecule 26 runs `ansible-playbook --version`
before every playbook of a scenario (create, converge, idempotence, verify, destroy: five times, 0.5 CPU-s each)
to check that the executor is there. Here it is checked once a process: the first check runs as molecule's own,
and a failing check still stops the run. Usage: `python -m tests.molecule_run test -s default` (from the checkout)."""

from __future__ import annotations

import sys

from molecule.__main__ import main
from molecule.provisioner.ansible_playbook import AnsiblePlaybook

_VALIDATE = AnsiblePlaybook._validate_backend
_CHECKED: set[str] = set()


def _validate_once(self: AnsiblePlaybook, backend: str) -> None:
    """molecule's check of the executor, run the first time a backend is asked for, then known to pass."""
    if backend not in _CHECKED:
        _VALIDATE(self, backend)
        _CHECKED.add(backend)


AnsiblePlaybook._validate_backend = _validate_once  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.argv[0] = "molecule"
    sys.exit(main())
