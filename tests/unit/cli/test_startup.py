"""Start-up: importing the command line loads no heavy library, so ``forecastscale --help`` stays fast.

Behavioural, not timed: the modules a fresh interpreter holds after ``import forecastscale.cli`` are listed
(benchmarks/cli_startup.py measures the time itself).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

# Each costs 0.1-1 s to import on a busy 2-core machine (python3 -X importtime -c 'import statsmodels.api').
HEAVY = ("statsmodels", "sklearn", "kubernetes", "matplotlib", "pandas", "scipy", "prometheus_api_client",
         "prometheus_client", "requests", "hypercorn", "apscheduler")
# The layers that pull the libraries above; the CLI imports them inside the command that runs.
HEAVY_LAYERS = ("forecastscale.backtest", "forecastscale.service", "forecastscale.sources",
                "forecastscale.forecasters", "forecastscale.policy", "forecastscale.actuators", "forecastscale.kube")


def modules_after(statement: str) -> set[str]:
    """The top-level package names, and forecastscale's modules, loaded by ``statement`` in a fresh Python."""
    code = f"{statement}; import sys; print('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=True)
    names = done.stdout.split()
    return {n.split(".")[0] for n in names} | {n for n in names if n.startswith("forecastscale.")}


@pytest.fixture(scope="module")
def cli_modules() -> set[str]:
    return modules_after("import forecastscale.cli")


@pytest.mark.parametrize("library", HEAVY)
def test_importing_the_cli_loads_no_heavy_library(cli_modules: set[str], library: str) -> None:
    assert library not in cli_modules


@pytest.mark.parametrize("layer", HEAVY_LAYERS)
def test_importing_the_cli_loads_no_heavy_layer(cli_modules: set[str], layer: str) -> None:
    assert not {m for m in cli_modules if m == layer or m.startswith(f"{layer}.")}


def test_the_check_sees_a_heavy_import() -> None:
    """The listing is real: a command's heavy layer, once imported, shows up."""
    assert "statsmodels" in modules_after("import forecastscale.backtest.runner")
