"""Stand-in for the get-pip.py bootstrap script ansible-test downloads from ci-files.testing.ansible.com.

``make sanity`` puts it where ansible-test caches that script. Like get-pip.py, which carries a copy of pip
and runs it to install the requested pip, it runs pip from the pip wheel ``make sanity-wheels`` saved (pip
runs from its wheel, a zip on ``sys.path``) and installs what ansible-test asks for from those wheels
(pip's configuration: ``no-index``, ``find-links``): no network while the sanity tests run, and no
``ensurepip`` round (its pip and setuptools installed, then setuptools removed) in each of the per-test
virtual environments.
"""

from __future__ import annotations

import configparser
import glob
import os
import runpy
import sys

GET_PIP_OPTIONS = ("--no-setuptools", "--no-wheel")  # get-pip.py's own options, not pip's; neither is installed
PIP_CONFIG = "~/.config/pip/pip.conf"  # where make sanity writes find-links (HOME is .sanity/home)


def pip_wheel(config: str = PIP_CONFIG) -> str:
    """The pip wheel in pip's find-links folder (the saved wheels)."""
    parser = configparser.ConfigParser()
    parser.read(os.path.expanduser(config))
    folder = os.environ.get("PIP_FIND_LINKS") or parser.get("global", "find-links", fallback="")
    wheels = sorted(glob.glob(os.path.join(folder, "pip-*-py3-none-any.whl"))) if folder else []
    if not wheels:
        sys.exit(f"get_pip stand-in: no pip wheel in pip's find-links ({folder or 'not set'}): run make sanity-wheels")
    return wheels[-1]


def main() -> None:
    arguments = [arg for arg in sys.argv[1:] if arg not in GET_PIP_OPTIONS]
    sys.path.insert(0, pip_wheel())
    sys.argv = ["pip", "install", *arguments]
    try:
        runpy.run_module("pip", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        if exc.code not in (None, 0):  # pip exits 0 on success
            raise


if __name__ == "__main__":
    main()
