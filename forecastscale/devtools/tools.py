"""Make sure the system tools the integration tests run are installed: on a fresh Debian machine, install them.

The README's test command (``python3 -m pytest``) must pass on a fresh machine, and the integration tests run a
real Prometheus (the Debian package ``prometheus``: ``prometheus`` and ``promtool``). Rather than 38 errors at
the end of a run, the test session checks first (``tests/conftest.py``) and, where it can — root, or password-less
``sudo``, and ``apt-get`` — installs the package, saying so in one line; where it cannot, it stops with one line
that says what to install.

Every outside effect (``which``, running a command, the effective user) is a parameter, so the decision is tested
without installing anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

INSTALL_TIMEOUT_S = 900.0  # apt-get update + install of one package on a slow mirror; bounded all the same


class ToolsMissing(RuntimeError):
    """A needed tool is missing and could not be installed: the message says what to install (one line)."""


@dataclass(frozen=True)
class DebianPackage:
    """A Debian package and the executables the tests need from it."""

    name: str
    executables: tuple[str, ...]

    def missing(self, which: Callable[[str], str | None]) -> list[str]:
        """The executables not on PATH."""
        return [exe for exe in self.executables if which(exe) is None]


PROMETHEUS = DebianPackage("prometheus", ("prometheus", "promtool"))

Run = Callable[[Sequence[str]], int]


def _run(argv: Sequence[str]) -> int:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(list(argv), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          timeout=INSTALL_TIMEOUT_S, check=False).returncode


def _privilege(which: Callable[[str], str | None], euid: int) -> list[str] | None:
    """The prefix that runs apt-get as root: none as root, ``sudo -n`` (never prompts) if there is sudo; ``None``
    if neither."""
    if euid == 0:
        return []
    return ["sudo", "-n"] if which("sudo") is not None else None


def install_commands(package: DebianPackage, prefix: list[str]) -> list[list[str]]:
    """``apt-get update`` then ``apt-get install`` of ``package``, quietly, with no questions."""
    return [[*prefix, "apt-get", "update", "-qq"], [*prefix, "apt-get", "install", "-y", "-qq", package.name]]


def ensure(package: DebianPackage, *, say: Callable[[str], None], which: Callable[[str], str | None] = shutil.which,
           run: Run = _run, euid: int | None = None) -> bool:
    """Install ``package`` if any of its executables is missing; ``True`` if it installed it.

    Raises :class:`ToolsMissing` (one line: what is missing and the command that installs it) when it cannot.
    """
    missing = package.missing(which)
    if not missing:
        return False
    hint = f"install the Debian package {package.name!r} (sudo apt-get install {package.name})"
    prefix = _privilege(which, os.geteuid() if euid is None else euid)
    if prefix is None or which("apt-get") is None:
        raise ToolsMissing(f"{', '.join(missing)} not found and cannot be installed here: {hint}")
    say(f"{', '.join(missing)} not found: installing the Debian package {package.name!r} (apt-get) …")
    for argv in install_commands(package, prefix):
        if _attempt(run, argv) != 0:
            raise ToolsMissing(f"{' '.join(argv)} failed: {hint}")
    if still := package.missing(which):
        raise ToolsMissing(f"{', '.join(still)} still not found after installing {package.name!r}: {hint}")
    return True


def _attempt(run: Run, argv: Sequence[str]) -> int:
    try:
        return run(argv)
    except (OSError, subprocess.SubprocessError):  # not runnable, or timed out: the caller says what to do
        return -1
