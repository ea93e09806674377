"""The import direction the design promises, as the contracts in pyproject.toml state it (import-linter), and
no import circle anywhere in the package (grimp, import-linter's graph: module by module, ``__init__`` included)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from typing import Any

import grimp

from tests.conftest import REPO

PYPROJECT = REPO / "pyproject.toml"
IO_CLIENTS = {"kubernetes", "requests", "urllib3", "prometheus_api_client", "prometheus_client", "apscheduler",
              "http", "urllib", "socket", "hypercorn"}


def contracts() -> dict[str, dict[str, Any]]:
    """The import-linter contracts of pyproject.toml by id."""
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def test_the_import_contracts_are_kept() -> None:
    # Layers (cli > service | backtest > policy | sources | actuators > forecasters | kube > config > types …),
    # pure policy/ and forecasters/, and no circle between siblings. In a process of its own: lint-imports
    # reconfigures logging, which would silence this process's loggers for the tests after this one.
    run = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
    done = subprocess.run([sys.executable, "-c", run], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_contracts_still_say_what_the_design_promises() -> None:
    # Weakening pyproject.toml must fail here too: policy/ and forecasters/ reach no I/O client and no kube/, not
    # even through another module; every top-level module has a layer.
    pure = contracts()["pure-core"]
    assert pure["type"] == "forbidden" and pure.get("allow_indirect_imports") is not True
    assert set(pure["source_modules"]) == {"forecastscale.policy", "forecastscale.forecasters"}
    assert IO_CLIENTS | {"forecastscale.kube"} <= set(pure["forbidden_modules"])
    layers = contracts()["layers"]
    assert layers["exhaustive"] is True and layers["layers"][1:4] == [
        "cli | dashboards | devtools", "service | backtest", "policy | sources | actuators"]


def circles(graph: grimp.ImportGraph, package: str) -> list[tuple[str, ...]]:
    """Every import circle among ``package``'s modules, each as ``(a, b, …)`` (a imports b … imports a),
    starting at its smallest module name. One shortest circle is found through each import on a circle."""
    found: set[tuple[str, ...]] = set()
    for importer in graph.find_descendants(package) | {package}:
        for imported in graph.find_modules_directly_imported_by(importer):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                circle = back[-1:] + back[:-1]  # importer, imported, …
                start = circle.index(min(circle))
                found.add(circle[start:] + circle[:start])
    return sorted(found)


def test_no_import_circles() -> None:
    graph = grimp.build_graph("forecastscale", cache_dir=None)
    assert circles(graph, "forecastscale") == []


def test_a_circle_through_a_package_init_is_found() -> None:
    # The kind the acyclic_siblings contract cannot see: cli/__init__ defining the app, a command importing it back.
    graph = grimp.ImportGraph()
    graph.add_module("p")
    for importer, imported in (("p.cli", "p.cli.tune"), ("p.cli.tune", "p.cli"), ("p.cli.tune", "p.config"),
                               ("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a")):
        graph.add_import(importer=importer, imported=imported)
    assert circles(graph, "p") == [("p.a", "p.b", "p.c"), ("p.cli", "p.cli.tune")]
