"""decide_fleet: every target's policy, placement with spill-over and sharing, nodes per pool — one pure step."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from forecastscale.config import Config, parse_config
from forecastscale.policy.base import Policy, PolicyHistory
from forecastscale.policy.behavior import BehaviorHistory
from forecastscale.policy.fleet import FleetState, PoolMemory, TargetInput, decide_fleet
from forecastscale.policy.placement import Placement
from forecastscale.policy.predictive import PredictivePolicy
from forecastscale.policy.reactive import ReactivePolicy
from forecastscale.types import Decision, Limit, Observation, PoolState, Source
from tests.conftest import merged

FAST = {"scale_up": {"stabilization_window_seconds": 0, "policies": [{"type": "Pods", "value": 1000,
                                                                        "period_seconds": 15}]}}


def _config(*targets: dict[str, Any], pools: list[dict[str, Any]] | None = None, **service: Any) -> Config:
    base = {"workload": {"capacity_per_replica": 1}, "scheduling": {"node_pool": "a100"},
            "scaling": {"target_utilisation": 1.0, "max_replicas": 100, "behavior": FAST}}
    return parse_config({"targets": [merged(base, t) for t in targets], "service": service,
                         "node_pools": pools or [{"name": "a100", "gpus_per_node": 8, "max_nodes": 2},
                                                 {"name": "h100", "gpus_per_node": 8, "max_nodes": 4}]})


def _obs(demand: float, current: int, t: float = 600.0) -> Observation:
    return Observation(t=t, step_s=60.0, demand_history=np.full(10, demand), current_replicas=current,
                       ready_replicas=current)


def _reactive(config: Config) -> dict[str, Policy]:
    return {t.name: ReactivePolicy(t) for t in config.targets}


def _decide(config: Config, inputs: dict[str, TargetInput], policies: dict[str, Policy] | None = None,
            pools: dict[str, PoolState] | None = None, state: FleetState | None = None) -> Any:
    return decide_fleet(Placement(config), policies or _reactive(config), inputs, pools or {}, state or FleetState())


def test_the_first_pool_full_spills_to_the_second_uncapped_and_it_gets_what_those_pods_need() -> None:
    """The reproduction: two eligible pools, the first full. Live used to cap at 16 (reactive) or cap and still
    ask the second pool for nodes no pod would use (predictive)."""
    config = _config({"name": "chat"})
    fleet, _ = _decide(config, {"chat": TargetInput(_obs(26.0, 2))})
    d = fleet.targets["chat"]
    assert d.replicas == 26 and d.reason == "reactive/spilled" and "spilled 10 pods to h100" in d.message
    assert (fleet.pools["a100"].nodes, fleet.pools["h100"].nodes) == (2, 2)  # 16 + 10 one-GPU pods, 8 per node
    assert dict(fleet.pools["h100"].pods) == {"chat": 10}


def test_only_what_fits_nowhere_is_capped_and_the_reason_says_so() -> None:
    config = _config({"name": "chat"})
    fleet, _ = _decide(config, {"chat": TargetInput(_obs(60.0, 2))})
    d = fleet.targets["chat"]
    assert d.replicas == 48 and d.limits == (Limit.SPILLED, Limit.CAPPED_SHARE)
    assert d.reason == "reactive/spilled/capped:share" and d.candidates["capped"] == 48
    assert (fleet.pools["a100"].nodes, fleet.pools["h100"].nodes) == (2, 4)


def test_pods_planned_ahead_are_packed_and_spill_like_the_pods_of_now() -> None:
    """Three days of 4/s with a 30/s peak from 18:00, decided at 17:52: beyond the 3-min pod lead, within the
    10-min node lead — the pods to come are placed (spilling) and packed now."""
    config = _config({"name": "chat", "forecast": {"model": "seasonal_naive", "step_s": 60}})
    day = np.full(1440, 4.0)
    day[18 * 60: 19 * 60] = 30.0
    history = np.tile(day, 3)[: 2 * 1440 + 17 * 60 + 52]
    obs = Observation(t=len(history) * 60.0, step_s=60.0, demand_history=history, current_replicas=4,
                      ready_replicas=4)
    policy = PredictivePolicy(config.targets[0], config.node_pools[0], 60.0, 60.0)
    fleet, _ = _decide(config, {"chat": TargetInput(obs)}, {"chat": policy})
    d = fleet.targets["chat"]
    assert d.replicas == 4 and d.planned == 30  # 4/s now; 30 pods by the time the nodes are Ready
    assert dict(fleet.pools["a100"].placed) == {"chat": 16} and dict(fleet.pools["h100"].placed) == {"chat": 14}
    assert (fleet.pools["a100"].nodes, fleet.pools["h100"].nodes) == (2, 2)


def test_headroom_and_replacement_nodes_are_added_within_bounds() -> None:
    config = _config({"name": "chat"}, pools=[{"name": "a100", "gpus_per_node": 8, "max_nodes": 10,
                                                "headroom_nodes": 1}])
    fleet, _ = _decide(config, {"chat": TargetInput(_obs(16.0, 16))}, pools={"a100": PoolState(lost_gpus=9)})
    plan = fleet.pools["a100"]
    assert (plan.nodes, plan.running) == (2 + 1 + 2, 2)  # 16 pods → 2 nodes, 1 spare, 9 lost GPUs → 2 more
    assert plan.spare == 3 and "replacing 9 unusable GPUs" in plan.why


def test_a_reactive_pool_scales_down_only_after_nodes_were_unneeded_for_a_while() -> None:
    pools = [{"name": "a100", "gpus_per_node": 8, "max_nodes": 10, "scale_down_unneeded_s": 600}]
    config = _config({"name": "chat"}, pools=pools)
    state = FleetState({"a100": PoolMemory(last_nodes=4)})
    seen = []
    for t in (0.0, 300.0, 599.0, 600.0):  # 8 pods need 1 node: 3 are surplus from t = 0
        fleet, state = _decide(config, {"chat": TargetInput(_obs(8.0, 8, t))}, state=state)
        seen.append(fleet.pools["a100"].nodes)
    assert seen == [4, 4, 4, 1]
    fleet, state = _decide(config, {"chat": TargetInput(_obs(30.0, 30, 660.0))}, state=state)
    assert fleet.pools["a100"].nodes == 4  # up at once for the pods that exist


def test_a_degraded_target_holds_its_pool_at_the_last_plan() -> None:
    config = _config({"name": "chat"}, pools=[{"name": "a100", "gpus_per_node": 8, "max_nodes": 10}])
    state = FleetState({"a100": PoolMemory(last_nodes=5)})
    fleet, state = _decide(config, {"chat": TargetInput(_obs(1.0, 8), missing_ticks=1, problem="prometheus down")},
                           state=state)
    assert fleet.targets["chat"].source is Source.HOLD and fleet.targets["chat"].replicas == 8
    assert fleet.pools["a100"].nodes == 5 and state.pools["a100"].last_nodes == 5


@pytest.mark.parametrize(("missing", "fallback", "replicas", "source"), [
    (1, 25, 8, Source.HOLD), (3, 25, 25, Source.FALLBACK), (3, 4, 8, Source.FALLBACK), (9, None, 8, Source.HOLD),
], ids=["hold-first", "fallback-after-3", "never-below-current", "no-fallback-set"])
def test_missing_data_holds_then_falls_back_never_down(missing: int, fallback: int | None, replicas: int,
                                                       source: Source) -> None:
    config = _config({"name": "chat", "scaling": {"fallback_replicas": fallback}}, fallback_after_ticks=3)
    fleet, _ = _decide(config, {"chat": TargetInput(_obs(1.0, 8), missing_ticks=missing)})
    assert (fleet.targets["chat"].replicas, fleet.targets["chat"].source) == (replicas, source)


class Exploding:
    """A policy meeting a bug on its data."""

    name, plans_nodes = "exploding", True

    def decide(self, obs: Observation, history: PolicyHistory) -> tuple[Decision, PolicyHistory]:
        raise ZeroDivisionError("a forecaster divided by zero")


def test_a_policy_that_raises_is_contained_to_its_target() -> None:
    config = _config({"name": "a"}, {"name": "b"})
    policies = {**_reactive(config), "a": Exploding()}
    fleet, _ = _decide(config, {"a": TargetInput(_obs(5.0, 3)), "b": TargetInput(_obs(5.0, 3))}, policies)
    assert fleet.targets["a"].source is Source.HOLD and fleet.targets["a"].replicas == 3
    assert fleet.errors == {"a": "ZeroDivisionError: a forecaster divided by zero"}
    assert fleet.targets["b"].replicas == 5 and fleet.targets["b"].source is Source.REACTIVE


def test_the_caller_owns_the_history_recommendations_recorded_scale_events_not() -> None:
    config = _config({"name": "chat"})
    before = PolicyHistory(BehaviorHistory(((0.0, 4),), ((0.0, 1),)))
    fleet, _ = _decide(config, {"chat": TargetInput(_obs(9.0, 4), before)})
    after = fleet.histories["chat"]
    assert after.behavior.recommendations[-1] == (600.0, 9) and after.behavior.events == ()  # old event pruned
    assert after.scaled(600.0, 5).behavior.events == ((600.0, 5),)
