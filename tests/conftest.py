"""Shared fixtures: small valid configs and CSV writers."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from forecastscale.config import Config, Target, parse_config
from forecastscale.devtools.tools import PROMETHEUS, ToolsMissing, ensure

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"

# Property-based tests (tests/unit/fuzz) run the same examples on every machine: derandomized, no example
# database carried between runs; each test bounds its own max_examples and sets deadline=None.
settings.register_profile("forecastscale", derandomize=True, database=None, deadline=None, print_blob=True)
settings.load_profile("forecastscale")


def _needs_prometheus(item: pytest.Item) -> bool:
    return "integration" in item.path.parts or item.get_closest_marker("prometheus") is not None


def pytest_collection_finish(session: pytest.Session) -> None:
    """The README's test command passes on a fresh machine: if a selected test runs a real Prometheus and the
    Debian package is missing, install it (root or password-less sudo) or stop at once with one line saying
    what to install — never 38 errors at the end of the run."""
    if not any(_needs_prometheus(item) for item in session.items):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    say = reporter.write_line if reporter is not None else print
    try:
        ensure(PROMETHEUS, say=say)
    except ToolsMissing as exc:
        pytest.exit(f"{exc}; or run only the unit tests: python3 -m pytest tests/unit", returncode=4)


BASE_CONFIG: dict[str, Any] = {
    "targets": [{
        "name": "llm",
        "workload": {"capacity_per_replica": 1.0, "pod_startup_s": 180, "gpus_per_pod": 1},
        "scaling": {"target_utilisation": 0.5, "min_replicas": 1, "max_replicas": 64},
    }],
    "node_pools": [{"name": "gpu", "gpus_per_node": 4, "node_startup_s": 420, "max_nodes": 32}],
}


def merged(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with (a copy of) ``patch`` merged in: nested mappings (a target's sections) key by
    key, so no two results share a mutable value."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        nested = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merged(out[key], value) if nested else copy.deepcopy(value)
    return out


def target_of(name: str = "t", **sections: Any) -> Target:
    """A :class:`Target` from its sections, each a mapping or a section model (``workload.name`` defaults to
    ``name``, as in a config file)."""
    return Target.model_validate({"name": name, **sections})


@pytest.fixture
def make_config() -> Callable[..., Config]:
    """``make_config(target={...}, pool={...}, backtest={...})``: the base config, patched (a target's sections
    merged key by key: ``target={"scaling": {"min_replicas": 2}}`` keeps the other scaling fields)."""

    def build(target: dict[str, Any] | None = None, pool: dict[str, Any] | None = None,
              backtest: dict[str, Any] | None = None) -> Config:
        raw = copy.deepcopy(BASE_CONFIG)
        raw["targets"][0] = merged(raw["targets"][0], target or {})
        raw["node_pools"][0] = merged(raw["node_pools"][0], pool or {})
        if backtest:
            raw["backtest"] = backtest
        return parse_config(raw)

    return build


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[str, str], Path]:
    """``write_csv(name, text)`` → path of a file holding ``text``."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def small_elb_config(folder: Path, extra: str = "") -> Path:
    """``folder/small.yaml``: the bundled ELB config on the first 3 days of its trace (``folder/elb3d.csv``),
    ``extra`` YAML appended; returns the folder."""
    lines = (DATA / "elb_request_count_8c0756.csv").read_text(encoding="utf-8").splitlines()
    (folder / "elb3d.csv").write_text("\n".join(lines[: 1 + 3 * 288]) + "\n", encoding="utf-8")
    config = (DATA / "elb_request_count.yaml").read_text(encoding="utf-8")
    config = config.replace("trace: elb_request_count_8c0756.csv", "trace: elb3d.csv")
    (folder / "small.yaml").write_text(config + extra, encoding="utf-8")
    return folder


def small_shared_config(folder: Path, days: int) -> Path:
    """``folder/shared.yaml``: data/scenarios/shared_pool.yaml on the first ``days`` days of its traces (copied
    into ``folder``); returns the folder."""
    config = (DATA / "scenarios" / "shared_pool.yaml").read_text(encoding="utf-8")
    for name in ("elb_request_count_8c0756.csv", "Twitter_volume_GOOG.csv"):
        lines = (DATA / name).read_text(encoding="utf-8").splitlines()
        (folder / name).write_text("\n".join(lines[: 1 + days * 288]) + "\n", encoding="utf-8")
        config = config.replace(f"trace: ../{name}", f"trace: {name}")
    (folder / "shared.yaml").write_text(config, encoding="utf-8")
    return folder
