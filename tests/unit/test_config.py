from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from forecastscale.config import load_config, parse_config
from forecastscale.errors import ConfigError
from tests.conftest import BASE_CONFIG, DATA


def _with(path: str, value: Any) -> dict[str, Any]:
    raw = copy.deepcopy(BASE_CONFIG)
    node: Any = raw
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for k in keys[:-1]:
        node = node[k]
    node[keys[-1]] = value
    return raw


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("targets.0.capacity_per_replica", -3, "targets[0].capacity_per_replica: must be > 0, got -3"),
    ("targets.0.target_utilisation", 1.5, "targets[0].target_utilisation: must be <= 1, got 1.5"),
    ("targets.0.min_replicas", 0, "targets[0].min_replicas: must be >= 1, got 0"),
    ("targets.0.max_replicas", "many", "targets[0].max_replicas: must be a whole number, got 'many'"),
    ("targets.0.pod_startup_s", -1, "targets[0].pod_startup_s: must be >= 0, got -1"),
    ("targets.0.colour", "red", "targets[0].colour: unknown field, got 'red'"),
    ("node_pools.0.gpus_per_node", 0, "node_pools[0].gpus_per_node: must be > 0, got 0"),
    ("node_pools.0.gpu_hour_cost", -2.5, "node_pools[0].gpu_hour_cost: must be >= 0, got -2.5"),
    ("targets.0.min_replicas", 65, "targets[0]: min_replicas (65) > max_replicas (64)"),
    ("targets.0.node_pool", "tpu", "targets[0].node_pool: unknown pool 'tpu'; have ['gpu']"),
    ("targets.0.gpus_per_pod", 8, "targets[0].gpus_per_pod: 8 exceeds gpus_per_node 4 of pool 'gpu'"),
], ids=["negative-capacity", "utilisation>1", "min-0", "not-int", "negative-startup", "unknown-field",
        "zero-gpus", "negative-cost", "min>max", "unknown-pool", "pod>node"])
def test_bad_field_gives_one_line_naming_it(path: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_with(path, value))
    assert info.value.problems == [expected]


def test_every_bad_field_is_reported_at_once() -> None:
    raw = _with("targets.0.capacity_per_replica", 0)
    raw["node_pools"][0]["max_nodes"] = -1
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert len(info.value.problems) == 2


def test_defaults_follow_kubernetes() -> None:
    cfg = parse_config(BASE_CONFIG)
    t = cfg.targets[0]
    assert t.tolerance == 0.1
    assert t.behavior.scale_down.stabilization_window_seconds == 300
    assert [(p.type, p.value, p.period_seconds) for p in t.behavior.scale_up.policies] == [
        ("Pods", 4, 15), ("Percent", 100, 15)]
    assert t.forecast.quantile == 0.9
    assert cfg.pool_for(t).name == "gpu"


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("targets:\n  - name: x\n    capacity_per_replica: [1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems[0].startswith("line 4: not valid YAML")


def test_missing_file_and_wrong_top_level(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "absent.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="top level must be a mapping, got list"):
        load_config(path)


@pytest.mark.parametrize("name", ["elb_request_count.yaml", "nyc_taxi.yaml", "twitter_goog.yaml"])
def test_bundled_configs_load_and_resolve_their_traces(name: str) -> None:
    cfg = load_config(DATA / name)
    trace = cfg.targets[0].trace
    assert trace is not None and trace.is_file()
