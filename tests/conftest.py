"""Shared fixtures: small valid configs and CSV writers."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from forecastscale.config import Config, parse_config

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"

# Property-based tests (tests/unit/fuzz) run the same examples on every machine: derandomized, no example
# database carried between runs; each test bounds its own max_examples and sets deadline=None.
settings.register_profile("forecastscale", derandomize=True, database=None, deadline=None, print_blob=True)
settings.load_profile("forecastscale")

BASE_CONFIG: dict[str, Any] = {
    "targets": [{
        "name": "llm",
        "capacity_per_replica": 1.0,
        "target_utilisation": 0.5,
        "min_replicas": 1,
        "max_replicas": 64,
        "pod_startup_s": 180,
        "gpus_per_pod": 1,
    }],
    "node_pools": [{"name": "gpu", "gpus_per_node": 4, "node_startup_s": 420, "max_nodes": 32}],
}


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in patch.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.fixture
def make_config() -> Callable[..., Config]:
    """``make_config(target={...}, pool={...}, backtest={...})``: the base config, patched."""

    def build(target: dict[str, Any] | None = None, pool: dict[str, Any] | None = None,
              backtest: dict[str, Any] | None = None) -> Config:
        raw = copy.deepcopy(BASE_CONFIG)
        raw["targets"][0] = _merge(raw["targets"][0], target or {})
        raw["node_pools"][0] = _merge(raw["node_pools"][0], pool or {})
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
