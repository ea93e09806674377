"""The test session's set-up on a fresh machine: install the Debian ``prometheus`` package if it can, else say in
one line what to install. Everything outside (PATH, commands, the user) is simulated: nothing is installed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from forecastscale.devtools.tools import PROMETHEUS, ToolsMissing, ensure


@dataclass
class Machine:
    """A simulated machine: what is on PATH, and apt-get that puts the package's executables there."""

    on_path: set[str]
    apt_works: bool = True
    ran: list[list[str]] = field(default_factory=list)

    def which(self, name: str) -> str | None:
        return f"/usr/bin/{name}" if name in self.on_path else None

    def run(self, argv: Sequence[str]) -> int:
        self.ran.append(list(argv))
        if not self.apt_works:
            return 100
        if "install" in argv:
            self.on_path |= set(PROMETHEUS.executables)
        return 0


APT = {"apt-get"}


def test_nothing_to_do_when_installed() -> None:
    machine = Machine({"prometheus", "promtool"})
    assert ensure(PROMETHEUS, say=print, which=machine.which, run=machine.run, euid=1000) is False
    assert machine.ran == []


@pytest.mark.parametrize(("euid", "on_path", "prefix"), [
    (0, APT, []),
    (1000, APT | {"sudo"}, ["sudo", "-n"]),
    (0, APT | {"promtool"}, []),
], ids=["root", "sudo-without-password", "half-installed"])
def test_installs_when_it_can(euid: int, on_path: set[str], prefix: list[str]) -> None:
    machine, said = Machine(set(on_path)), []
    assert ensure(PROMETHEUS, say=said.append, which=machine.which, run=machine.run, euid=euid) is True
    assert machine.ran == [[*prefix, "apt-get", "update", "-qq"], [*prefix, "apt-get", "install", "-y", "-qq",
                                                                   "prometheus"]]
    assert len(said) == 1 and "installing the Debian package 'prometheus'" in said[0]
    assert machine.which("promtool") and machine.which("prometheus")


@pytest.mark.parametrize(("euid", "on_path", "apt_works", "says"), [
    (1000, APT, True, "cannot be installed here"),
    (0, set(), True, "cannot be installed here"),
    (0, APT, False, "apt-get update -qq failed"),
], ids=["no-root-no-sudo", "no-apt-get", "apt-get-fails"])
def test_one_clear_line_when_it_cannot(euid: int, on_path: set[str], apt_works: bool, says: str) -> None:
    machine = Machine(set(on_path), apt_works=apt_works)
    with pytest.raises(ToolsMissing) as caught:
        ensure(PROMETHEUS, say=print, which=machine.which, run=machine.run, euid=euid)
    message = str(caught.value)
    assert says in message and "sudo apt-get install prometheus" in message and "\n" not in message


def test_a_package_without_the_executables_is_reported() -> None:
    machine = Machine(set(APT))
    machine.run = lambda argv: 0  # type: ignore[method-assign]  # "installs" but nothing appears on PATH
    with pytest.raises(ToolsMissing, match="still not found after installing 'prometheus'"):
        ensure(PROMETHEUS, say=print, which=machine.which, run=machine.run, euid=0)
