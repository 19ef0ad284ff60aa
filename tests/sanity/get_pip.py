"""Stand-in for the get-pip.py bootstrap script ansible-test downloads from ci-files.testing.ansible.com.

``make sanity`` puts it where ansible-test caches that script, so its per-test virtual
environments get pip from the interpreter's own ``ensurepip`` and then ``pip install`` the
requested pip version, as get-pip.py would, from the wheels ``make sanity-wheels`` saved
(``PIP_NO_INDEX``/``PIP_FIND_LINKS``): no network while the sanity tests run.
"""

from __future__ import annotations

import ensurepip
import importlib
import os
import runpy
import sys

GET_PIP_OPTIONS = ("--no-setuptools", "--no-wheel")  # get-pip.py's own options, not pip's


def main() -> None:
    arguments = [arg for arg in sys.argv[1:] if arg not in GET_PIP_OPTIONS]
    environment = dict(os.environ)
    ensurepip.bootstrap(upgrade=True)  # sets PIP_CONFIG_FILE=/dev/null in this process
    os.environ.clear()
    os.environ.update(environment)  # pip's configuration (no-index, find-links) applies again
    importlib.invalidate_caches()
    if "--no-setuptools" in sys.argv:
        # ensurepip brings setuptools; get-pip.py --no-setuptools leaves it out
        runpy_pip(["uninstall", "--yes", "--quiet", "setuptools"])
    runpy_pip(["install", *arguments])


def runpy_pip(arguments: list[str]) -> None:
    sys.argv = ["pip", *arguments]
    try:
        runpy.run_module("pip", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        if exc.code not in (None, 0):  # pip exits 0 on success
            raise


if __name__ == "__main__":
    main()
