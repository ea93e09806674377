"""The simulator's part in stockouts and safe scale-down: an alternative's pods serve their target, a node whose pods
are starting is never removed, and a replay with a stockout detects it and spills as the live loop does."""

from __future__ import annotations

from typing import Any

import pytest

from forecastscale.backtest.cluster import FleetSimulator
from forecastscale.backtest.loop import fleet_scenario, run_fleet
from forecastscale.backtest.runner import build_scenario, make_policy
from forecastscale.config import Config, parse_config
from forecastscale.sources.csvtrace import load_trace
from forecastscale.types import Limit

POOL = {"name": "a", "gpus_per_node": 4, "node_startup_s": 420, "max_nodes": 32, "labels": {"gpu": "a"}}
ALT_POOL = {"name": "b", "gpus_per_node": 8, "node_startup_s": 300, "max_nodes": 16}
LLM = {"name": "llm", "workload": {"capacity_per_replica": 2.0, "pod_startup_s": 180,
                                   "alternatives": [{"pool": "b", "capacity_per_replica": 1.0}]},
       "scaling": {"max_replicas": 64}, "scheduling": {"node_pool": "a", "node_selector": {"gpu": "a"}}}


def _config(**extra: Any) -> Config:
    return parse_config({"targets": [LLM], "node_pools": [POOL, ALT_POOL], **extra})


def test_an_alternatives_ready_pods_serve_its_target_and_its_gpus_count_for_it() -> None:
    sim = FleetSimulator(_config())
    sim.seed({"llm": 4, "llm@b": 6}, {"a": 1, "b": 1})
    assert sim.ready_capacity("llm") == 4 * 2.0 + 6 * 1.0
    assert sim.bound_gpus("b") == {"llm": 6}


@pytest.mark.parametrize(("at", "moved"), [(60.0, False), (200.0, True)],
                         ids=["pods-starting-their-node-stays", "pods-ready-least-used-node-drained"])
def test_a_node_whose_pods_are_starting_is_never_removed(at: float, moved: bool) -> None:
    other = {"name": "other", "workload": {"capacity_per_replica": 1.0}, "scaling": {"max_replicas": 8},
             "scheduling": {"node_pool": "a"}}
    sim = FleetSimulator(parse_config({"targets": [LLM, other], "node_pools": [POOL, ALT_POOL]}))
    sim.seed({"other": 4, "llm": 0}, {"a": 2})  # node 1 full of other's Ready pods, node 2 empty
    sim.apply(0.0, {"other": 4, "llm": 1}, {"a": 2})  # llm's pod starts on node 2, Ready at 180 s
    node = sim.bound["llm"][0].node
    sim.apply(at, {"other": 2, "llm": 1}, {"a": 1})  # room on node 1 now: one node is to go
    assert sim.pool_state("a").ready == 1 and sim.counts("llm").replicas == 1
    assert (sim.bound["llm"][0].node is not node) == moved and sim.bound["llm"][0].ready_at == 180.0


def test_a_replay_with_a_stockout_detects_it_and_spills_to_the_alternative(write_csv: Any) -> None:
    """A steady 5/s, then 40/s from hour 3: the scale-up meets a stockout of pool ``a`` (hours 2–6)."""
    rows = "".join(f"{1_700_000_000 + 60 * i},{5 if i < 180 else 40}\n" for i in range(8 * 60))
    path = write_csv("steps.csv", "timestamp,value\n" + rows)
    cfg = _config(backtest={"stockouts": [{"pool": "a", "start": 7200, "duration_s": 4 * 3600}],
                            "warmup_s": 3600, "decision_interval_s": 60})
    sc = build_scenario(cfg, cfg.targets[0], load_trace(path))
    run = run_fleet(fleet_scenario([sc]), {"llm": make_policy("reactive", sc)})
    series = run.targets["llm"]
    assert any(Limit.STOCKOUT.value in r.split("/") for r in series.reasons)
    assert run.pools["b"].nodes.max() > 0  # the alternative's pool was used
    spill_at = 3 * 60 + 3 * 420 // 60 + 20  # the scale-up, 3 × the node lead, then nodes and pods on pool b
    assert series.capacity[spill_at:6 * 60].min() >= 40 * 0.99  # served on the alternative during the stockout
    assert run.pools["b"].nodes[-1] == 0 or run.pools["b"].gpus[-1] <= run.pools["b"].gpus[6 * 60]
