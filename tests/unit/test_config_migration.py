"""A target in the flat form of before config format 2 is refused with the new place of every old key, all at
once; genuinely unknown keys stay "unknown field" errors."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from forecastscale.config import load_config, parse_config
from forecastscale.errors import ConfigError
from tests.conftest import BASE_CONFIG, DATA

NOTE = '(config format 2; see README "Configuration")'

# data/elb_request_count.yaml as it was before format 2 (comments and the pool/backtest part shortened).
FLAT_ELB = """
targets:
  - name: chat-llm
    demand_unit: requests_per_s
    trace: elb_request_count_8c0756.csv
    demand_scale: 0.1
    capacity_per_replica: 1.0
    target_utilisation: 0.7
    min_replicas: 1
    max_replicas: 120
    pod_startup_s: 180        # pull + load weights onto the GPU
    gpus_per_pod: 1
    node_pool: a100-8x
    forecast:
      model: holt_winters
      quantile: 0.9
      refit_interval_s: 3600
node_pools:
  - {name: a100-8x, gpus_per_node: 8, node_startup_s: 420, min_nodes: 0, max_nodes: 16, gpu_hour_cost: 2.0}
backtest:
  decision_interval_s: 60
"""

# Every old flat key of a target and where format 2 puts it: written out, not derived from the code.
EVERY_MOVE = {
    "capacity_per_replica": "workload.capacity_per_replica", "demand_unit": "workload.demand_unit",
    "demand_scale": "workload.demand_scale", "pod_startup_s": "workload.pod_startup_s",
    "gpus_per_pod": "workload.gpus_per_pod", "cpu": "workload.cpu", "memory_gib": "workload.memory_gib",
    "max_wait_s": "workload.max_wait_s",
    "target_utilisation": "scaling.target_utilisation", "tolerance": "scaling.tolerance",
    "min_replicas": "scaling.min_replicas", "max_replicas": "scaling.max_replicas", "behavior": "scaling.behavior",
    "metrics": "scaling.metrics", "fallback_replicas": "scaling.fallback_replicas", "burst": "scaling.burst",
    "demand_query": "queries.demand", "queue_query": "queries.queue",
    "gpu_utilisation_query": "queries.gpu_utilisation",
    "node_pool": "scheduling.node_pool", "node_selector": "scheduling.node_selector",
    "affinity": "scheduling.affinity", "tolerations": "scheduling.tolerations", "share": "scheduling.share",
    "schedules": "events.cron", "trace": "backtest.trace",
}


def _problems(data: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return info.value.problems


def _moved(i: int, key: str) -> str:
    return f"targets[{i}].{key}: moved to targets[{i}].{EVERY_MOVE[key]} {NOTE}"


def test_a_flat_bundled_config_gets_every_move_in_file_order_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "elb.yaml"
    path.write_text(FLAT_ELB, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [
        f"targets[0].demand_unit: moved to targets[0].workload.demand_unit {NOTE}",
        f"targets[0].trace: moved to targets[0].backtest.trace {NOTE}",
        f"targets[0].demand_scale: moved to targets[0].workload.demand_scale {NOTE}",
        f"targets[0].capacity_per_replica: moved to targets[0].workload.capacity_per_replica {NOTE}",
        f"targets[0].target_utilisation: moved to targets[0].scaling.target_utilisation {NOTE}",
        f"targets[0].min_replicas: moved to targets[0].scaling.min_replicas {NOTE}",
        f"targets[0].max_replicas: moved to targets[0].scaling.max_replicas {NOTE}",
        f"targets[0].pod_startup_s: moved to targets[0].workload.pod_startup_s {NOTE}",
        f"targets[0].gpus_per_pod: moved to targets[0].workload.gpus_per_pod {NOTE}",
        f"targets[0].node_pool: moved to targets[0].scheduling.node_pool {NOTE}",
    ]
    assert str(info.value).startswith(f"{path}: invalid configuration\n  targets[0].demand_unit: moved to")


def _follow(target: dict[str, Any], lines: list[str]) -> dict[str, Any]:
    """``target`` rewritten by following each ``old: moved to new`` line, as a person would."""
    out = copy.deepcopy(target)
    for line in lines:
        where, to = line.split(": moved to ")  # targets[0].old: moved to targets[0].section.field (…)
        section, field = to.split(" ")[0].split(".")[1:]
        out.setdefault(section, {})[field] = out.pop(where.split(".")[1])
    return out


def test_following_the_moves_gives_the_bundled_config(tmp_path: Path) -> None:
    flat = yaml.safe_load(FLAT_ELB)
    moved = {**flat, "targets": [_follow(flat["targets"][0], _problems(flat))]}
    got = parse_config(moved, "elb.yaml", DATA)
    bundled = load_config(DATA / "elb_request_count.yaml")  # which since states an SLO (new in format 2)
    assert bundled.targets[0].slo is not None
    assert got == bundled.model_copy(update={"targets": [bundled.targets[0].model_copy(update={"slo": None})]})


def test_every_old_key_is_named_with_its_new_place() -> None:
    raw = copy.deepcopy(BASE_CONFIG)
    raw["targets"] = [{"name": "old", **dict.fromkeys(EVERY_MOVE, 1)}]
    assert _problems(raw) == [_moved(0, key) for key in EVERY_MOVE]


def test_a_mixed_config_names_only_the_old_keys_of_each_target() -> None:
    raw = copy.deepcopy(BASE_CONFIG)  # targets[0] is in format 2
    raw["targets"].append({"name": "half", "workload": {"capacity_per_replica": 2, "kind": "StatefulSet"},
                           "min_replicas": 2, "scaling": {"max_replicas": 8}, "schedules": [], "forecast": {}})
    assert _problems(raw) == [_moved(1, "min_replicas"), _moved(1, "schedules")]


def test_the_keys_that_kept_their_place_and_unknown_keys_are_not_moves() -> None:
    # name, forecast and workload (kind, name, namespace) are where they were; a typo is an unknown field.
    raw = copy.deepcopy(BASE_CONFIG)
    raw["targets"][0] |= {"forecast": {"model": "seasonal_naive"}, "capacity": 3}
    raw["targets"][0]["workload"] |= {"kind": "StatefulSet", "name": "llm-0", "namespace": "inference"}
    assert _problems(raw) == ["targets[0].capacity: unknown field, got 3"]


def test_an_old_key_inside_a_section_is_an_unknown_field_there() -> None:
    raw = copy.deepcopy(BASE_CONFIG)
    raw["targets"][0]["scaling"]["capacity_per_replica"] = 2
    assert _problems(raw) == ["targets[0].scaling.capacity_per_replica: unknown field, got 2"]


@pytest.mark.parametrize("targets", [None, "x", [1, "y", None], {"name": "t"}], ids=["none", "text", "items", "map"])
def test_targets_of_the_wrong_shape_get_the_usual_errors_not_a_crash(targets: Any) -> None:
    raw = {**copy.deepcopy(BASE_CONFIG), "targets": targets}
    assert all("moved to" not in line for line in _problems(raw))
