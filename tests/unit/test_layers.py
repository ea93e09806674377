"""The import direction the design promises: pure layers import no I/O clients and no upper layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "forecastscale"
IO_CLIENTS = ("kubernetes", "requests", "urllib3", "prometheus_api_client", "prometheus_client", "apscheduler",
              "http", "urllib", "socket")
UPPER = ("forecastscale.service", "forecastscale.backtest", "forecastscale.cli", "forecastscale.actuators",
         "forecastscale.sources")


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", ["policy", "forecasters"], ids=["policy", "forecasters"])
def test_pure_layers_import_no_io_client_and_no_upper_layer(layer: str) -> None:
    bad = {
        f"{path.name}: {name}"
        for path in (PACKAGE / layer).glob("*.py")
        for name in imports(path)
        if name.split(".")[0] in IO_CLIENTS or name.startswith(UPPER)
    }
    assert not bad, f"{layer}/ must stay pure: {sorted(bad)}"


def test_the_service_does_not_reach_into_the_backtest() -> None:
    bad = {f"{p.name}: {n}" for p in (PACKAGE / "service").glob("*.py") for n in imports(p)
           if n.startswith(("forecastscale.backtest", "forecastscale.cli"))}
    assert not bad, sorted(bad)
