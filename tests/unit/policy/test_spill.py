"""Spill-over to another accelerator (pure): the shortfall's capacity in the alternative's replicas, a stocked-out
pool capped at its Ready nodes with its request withdrawn, and the way back; node scale-down stays safe."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from forecastscale.config import Config, parse_config
from forecastscale.policy import spill
from forecastscale.policy.fleet import FleetState, PoolMemory, TargetInput, decide_fleet
from forecastscale.policy.placement import Placement
from forecastscale.policy.reactive import ReactivePolicy
from forecastscale.policy.stockout import Supply
from forecastscale.types import Limit, Observation, PoolState
from tests.conftest import merged

FAST = {"scale_up": {"stabilization_window_seconds": 0, "policies": [{"type": "Pods", "value": 1000,
                                                                        "period_seconds": 15}]}}
POOLS = [{"name": "h100", "gpus_per_node": 8, "max_nodes": 10, "node_startup_s": 600, "labels": {"acc": "h100"}},
         {"name": "a100", "gpus_per_node": 8, "max_nodes": 10, "labels": {"acc": "a100"}}]
ALT = {"pool": "a100", "capacity_per_replica": 0.5}


def _config(alternatives: list[dict[str, Any]] | None = None, **pool: Any) -> Config:
    target = {"name": "chat", "workload": {"capacity_per_replica": 1, "alternatives": alternatives or []},
              "scheduling": {"node_pool": "h100", "node_selector": {"acc": "h100"}},
              "scaling": {"target_utilisation": 1.0, "max_replicas": 100, "behavior": FAST}}
    return parse_config({"targets": [target], "node_pools": [merged(POOLS[0], pool), POOLS[1]]})


def _tick(config: Config, demand: float, current: int, ready: int, t: float, pools: dict[str, PoolState],
          state: FleetState) -> Any:
    obs = Observation(t=t, step_s=60.0, demand_history=np.full(10, demand), current_replicas=current,
                      ready_replicas=ready)
    return decide_fleet(Placement(config), {"chat": ReactivePolicy(config.targets[0])},
                        {"chat": TargetInput(obs)}, pools, state)


STOCKED = FleetState({"h100": PoolMemory(last_nodes=4, supply=Supply(1, 0.0))})  # waiting since t = 0


@pytest.mark.parametrize(("pods", "stocked", "expected"), [
    (0, set(), {"chat@a100": 0, "chat@l4": 0}),
    (10, set(), {"chat@a100": 20, "chat@l4": 0}),
    (3, set(), {"chat@a100": 6, "chat@l4": 0}),
    (10, {"a100"}, {"chat@a100": 0, "chat@l4": 40}),
    (10, {"a100", "l4"}, {"chat@a100": 0, "chat@l4": 0}),
], ids=["nothing-short", "twice-the-pods", "rounded-up", "first-alternative-stocked-out-too", "all-stocked-out"])
def test_the_shortfall_goes_to_the_first_alternative_not_stocked_out(pods: int, stocked: set[str],
                                                                      expected: dict[str, int]) -> None:
    pools = [*POOLS, {"name": "l4", "gpus_per_node": 8, "max_nodes": 10}]
    config = parse_config({"targets": [{"name": "chat", "workload": {
        "capacity_per_replica": 1, "alternatives": [ALT, {"pool": "l4", "capacity_per_replica": 0.25}]},
        "scheduling": {"node_pool": "h100"}, "scaling": {"max_replicas": 100}}], "node_pools": pools})
    assert spill.spill_to(config.targets[0], pods, stocked) == expected


@pytest.mark.parametrize(("wanted", "granted", "ready", "stocked", "draining", "short"), [
    (30, 8, 8, True, False, 22), (30, 30, 8, False, False, 0), (30, 30, 20, False, True, 10),
    (30, 30, 30, False, True, 0), (8, 30, 30, True, True, 0),
], ids=["stocked-out", "normal-scale-up-never-spills", "moving-back-as-pods-come-up", "moved-back", "no-negative"])
def test_short(wanted: int, granted: int, ready: int, stocked: bool, draining: bool, short: int) -> None:
    assert spill.short(wanted, granted, ready, stocked, draining) == short


def test_an_alternative_is_its_own_workload_pinned_to_its_pool() -> None:
    config = _config([{**ALT, "gpus_per_pod": 2, "cpu": 4}])
    alt, owner = spill.alternatives(config)["chat@a100"]
    assert owner.name == "chat" and alt.workload.name == "chat-a100" and alt.scheduling.node_pool == "a100"
    assert (alt.workload.gpus_per_pod, alt.workload.cpu, alt.workload.capacity_per_replica) == (2, 4, 0.5)
    assert alt.scaling.min_replicas == 0 and not alt.scheduling.node_selector
    assert Placement(config).eligible_pools("chat@a100") == ["a100"]


def test_a_stocked_out_pool_is_capped_at_its_ready_nodes_its_request_withdrawn_and_the_rest_spills() -> None:
    config = _config([ALT])
    pools = {"h100": PoolState(ready=1, starting=3), "a100": PoolState()}
    fleet, state = _tick(config, 30.0, 30, 8, 1800.0, pools, STOCKED)
    d = fleet.targets["chat"]
    assert fleet.stocked_out == {"h100": 1800.0} and state.pools["h100"].supply.stocked_out
    assert d.replicas == 30 and d.limits == (Limit.STOCKOUT,) and "22 pods wait there" in d.message  # kept
    assert fleet.alternatives == {"chat@a100": 44} and state.spilled == {"chat@a100": 44}
    assert fleet.pools["h100"].nodes == 2 and "withdrawn" in fleet.pools["h100"].why  # 1 Ready + 1 probe
    assert fleet.pools["a100"].nodes == 6 and dict(fleet.pools["a100"].pods) == {"chat@a100": 44}


def test_without_alternatives_a_stocked_out_pool_is_only_marked_its_request_stands() -> None:
    fleet, _ = _tick(_config(), 30.0, 30, 8, 1800.0, {"h100": PoolState(ready=1, starting=3)}, STOCKED)
    assert fleet.stocked_out == {"h100": 1800.0} and fleet.pools["h100"].nodes == 4
    assert fleet.targets["chat"].replicas == 30 and fleet.alternatives == {}


def test_when_the_pool_delivers_again_the_alternative_shrinks_as_its_own_pods_come_up() -> None:
    config = _config([ALT])
    pools = {"h100": PoolState(ready=1, starting=3), "a100": PoolState(ready=6)}
    _, state = _tick(config, 30.0, 30, 8, 1800.0, pools, STOCKED)
    seen = []
    for t, h100, ready in ((1860.0, PoolState(ready=2), 8), (1920.0, PoolState(ready=4), 20),
                           (1980.0, PoolState(ready=4), 30)):
        fleet, state = _tick(config, 30.0, 30, ready, t, {"h100": h100, "a100": pools["a100"]}, state)
        seen.append((fleet.targets["chat"].replicas, fleet.pools["h100"].nodes, fleet.alternatives["chat@a100"]))
    assert not state.pools["h100"].supply.stocked_out
    assert seen == [(30, 4, 44), (30, 4, 20), (30, 4, 0)]  # no cliff: (30 − Ready) × 2, then back to 0


@pytest.mark.parametrize(("starting", "unneeded_s", "times", "nodes"), [
    (0, 600, (0.0, 300.0, 600.0), [4, 4, 1]),
    (2, 600, (0.0, 300.0, 600.0), [4, 4, 4]),
    (0, 0, (0.0,), [1]),
    (1, 0, (0.0,), [4]),
], ids=["unneeded-for-a-while-then-removed", "pods-starting-hold-the-pool", "no-wait-configured",
        "pods-starting-hold-even-without-wait"])
def test_scale_down_waits_for_unneeded_time_and_never_while_pods_start(starting: int, unneeded_s: float,
                                                                        times: tuple[float, ...],
                                                                        nodes: list[int]) -> None:
    config = _config(scale_down_unneeded_s=unneeded_s)
    state, seen = FleetState({"h100": PoolMemory(last_nodes=4)}), []
    for t in times:  # 8 pods need 1 node: 3 are surplus
        obs = Observation(t=t, step_s=60.0, demand_history=np.full(10, 8.0), current_replicas=8,
                          ready_replicas=8 - starting, starting_replicas=starting)
        fleet, state = decide_fleet(Placement(config), {"chat": ReactivePolicy(config.targets[0])},
                                    {"chat": TargetInput(obs)}, {"h100": PoolState(ready=4)}, state)
        seen.append(fleet.pools["h100"].nodes)
    assert seen == nodes
