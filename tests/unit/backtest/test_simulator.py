"""The pool-level cluster simulator: lead times, shared nodes, spill-over, scale-down order, health faults,
stockouts (pods 180 s, nodes 420 s; pool ``a`` of 4-GPU nodes unless a test says otherwise)."""

from __future__ import annotations

from typing import Any

import pytest

from forecastscale.backtest.cluster import Fault, FleetSimulator, Outage
from forecastscale.config import Config, parse_config
from tests.conftest import merged

POOL_A = {"name": "a", "gpus_per_node": 4, "node_startup_s": 420, "max_nodes": 32, "labels": {"gpu": "a"}}
POOL_B = {"name": "b", "gpus_per_node": 8, "node_startup_s": 600, "max_nodes": 8, "labels": {"gpu": "b"}}
LLM = {"name": "llm", "workload": {"capacity_per_replica": 1.0, "pod_startup_s": 180}, "scaling": {"max_replicas": 64},
       "scheduling": {"node_pool": "a"}}


def _config(targets: list[dict[str, Any]] | None = None, pools: list[dict[str, Any]] | None = None) -> Config:
    return parse_config({"targets": targets or [LLM], "node_pools": pools or [POOL_A]})


def _sim(replicas: int, nodes: int, cfg: Config | None = None, **kwargs: Any) -> FleetSimulator:
    sim = FleetSimulator(cfg or _config(), **kwargs)
    sim.seed({"llm": replicas}, {"a": nodes})
    return sim


def _counts(sim: FleetSimulator, target: str = "llm", pool: str = "a") -> tuple[int, int, int, int, int]:
    c, p = sim.counts(target), sim.pool_state(pool)
    return c.ready, c.starting, c.pending, p.ready, p.starting


def test_seeded_pods_are_ready_at_once_and_the_rest_wait() -> None:
    sim = _sim(6, 1)  # one 4-GPU node: 4 pods fit, 2 wait for a node
    assert _counts(sim) == (4, 0, 2, 1, 0)


# (ready, starting, pending) pods and (ready, starting) nodes after each time.
@pytest.mark.parametrize(("before", "replicas", "nodes", "steps"), [
    (1, 3, 1, [(179.0, (1, 2, 0, 1, 0)), (180.0, (3, 0, 0, 1, 0))]),
    (4, 6, 2, [(419.0, (4, 0, 2, 1, 1)), (420.0, (4, 2, 0, 2, 0)), (599.0, (4, 2, 0, 2, 0)),
               (600.0, (6, 0, 0, 2, 0))]),
], ids=["room-ready-after-pod-startup", "no-room-pending-until-the-node-then-start"])
def test_lead_times_count_from_the_decision(before: int, replicas: int, nodes: int,
                                            steps: list[tuple[float, tuple[int, ...]]]) -> None:
    sim = _sim(before, 1)
    sim.apply(0.0, {"llm": replicas}, {"a": nodes})
    for t, counts in steps:
        sim.advance(t)
        assert _counts(sim) == counts, t


def test_scale_down_removes_pending_then_newest_starting_then_ready() -> None:
    sim = _sim(2, 1)
    sim.apply(0.0, {"llm": 3}, {"a": 1})     # 1 starting (ready at 180)
    sim.apply(60.0, {"llm": 7}, {"a": 1})    # 1 more starting (ready at 240), 3 pending (node full)
    assert _counts(sim) == (2, 2, 3, 1, 0)
    sim.apply(120.0, {"llm": 3}, {"a": 1})   # the 3 pending, then the newest starting pod
    assert _counts(sim) == (2, 1, 0, 1, 0)
    assert [p.ready_at for p in sim.bound["llm"] if p.ready_at > 120.0] == [180.0]
    sim.apply(130.0, {"llm": 1}, {"a": 1})   # then the last starting pod, then a ready one
    assert _counts(sim) == (1, 0, 0, 1, 0)


@pytest.mark.parametrize(("replicas", "nodes", "ask", "left"), [
    (5, 3, 0, 2),   # 5 pods fill 2 nodes; the empty one goes, the others hold pods that fit nowhere else
    (4, 4, 1, 1),   # first fit put the 4 pods on the first node: the 3 empty nodes go
    (8, 2, 1, 2),   # both nodes full: none can be drained
], ids=["empty-node", "down-to-one", "full-nodes-stay"])
def test_ready_nodes_go_only_when_their_pods_fit_on_the_others(replicas: int, nodes: int, ask: int,
                                                                left: int) -> None:
    sim = _sim(replicas, nodes)
    sim.apply(0.0, {"llm": replicas}, {"a": nodes + 1})  # one node starting: cancelled first
    sim.apply(60.0, {"llm": replicas}, {"a": ask})
    assert (sim.pool_state("a").ready, sim.pool_state("a").starting) == (left, 0)
    assert sim.counts("llm").ready == replicas and sim.provisioned_gpus("a") == 4 * left


def test_compaction_moves_pods_off_a_node_being_removed() -> None:
    small, big = {**LLM, "name": "small"}, merged(LLM, {"name": "big", "workload": {"gpus_per_pod": 2}})
    sim = FleetSimulator(_config([small, big]))
    sim.seed({"small": 2, "big": 2}, {"a": 2})   # node 1: small, small, big; node 2: big
    sim.apply(0.0, {"small": 0, "big": 2}, {"a": 2})
    sim.apply(60.0, {"small": 0, "big": 2}, {"a": 1})  # node 2's pod moves to node 1's free GPUs
    assert (sim.pool_state("a").ready, sim.counts("big").ready, sim.bound_gpus("a")) == (1, 2, {"big": 4})


def test_pods_of_two_targets_share_a_node() -> None:
    small = merged(LLM, {"name": "small", "workload": {"cpu": 2, "memory_gib": 8}})
    big = merged(LLM, {"name": "big", "workload": {"gpus_per_pod": 2, "cpu": 4, "memory_gib": 16}})
    sim = FleetSimulator(_config([small, big]))
    sim.seed({"small": 2, "big": 1}, {"a": 1})
    assert sim.bound_gpus("a") == {"small": 2, "big": 2}
    assert (sim.counts("small").ready, sim.counts("big").ready, sim.pool_state("a").ready) == (2, 1, 1)


@pytest.mark.parametrize(("cpu", "memory_gib", "per_node"), [
    (0, 0, 4),     # GPUs bind
    (4, 0, 2),     # 8 cores per node: CPU binds
    (0, 40, 3),    # 128 GiB per node: memory binds
], ids=["gpus", "cpu", "memory"])
def test_binding_respects_gpus_cpu_and_memory(cpu: float, memory_gib: float, per_node: int) -> None:
    pool = {**POOL_A, "cpu_per_node": 8, "memory_gib_per_node": 128}
    sim = FleetSimulator(_config([merged(LLM, {"workload": {"cpu": cpu, "memory_gib": memory_gib}})], [pool]))
    sim.seed({"llm": 8}, {"a": 1})
    assert (sim.counts("llm").ready, sim.counts("llm").pending) == (per_node, 8 - per_node)


@pytest.mark.parametrize(("selector", "on_b", "pending"), [
    ({}, 2, 0),                  # own pool full: the rest spill onto pool b's node
    ({"gpu": "a"}, 0, 2),        # a node selector keeps them off pool b: pending
], ids=["spills", "selector-keeps-home"])
def test_pods_spill_to_the_next_eligible_pool(selector: dict[str, str], on_b: int, pending: int) -> None:
    cfg = _config([merged(LLM, {"scheduling": {"node_selector": selector}})], [POOL_A, POOL_B])
    sim = FleetSimulator(cfg)
    sim.seed({"llm": 4}, {"a": 1, "b": 1})
    sim.apply(0.0, {"llm": 6}, {"a": 1, "b": 1})
    assert sim.bound_gpus("b").get("llm", 0) == on_b and sim.counts("llm").pending == pending
    assert sim.bound_gpus("a") == {"llm": 4}  # own pool first


@pytest.mark.parametrize(("fault", "lost", "ready_after", "pending_after"), [
    (Fault("a", 100.0, 700.0, nodes=1), 4, 4, 4),   # the oldest node's 4 pods evicted; nowhere to go
    (Fault("a", 100.0, 700.0, gpus=3), 3, 5, 3),    # 2 + 1 GPUs lost on the two nodes: 3 newest pods there out
], ids=["nodes", "gpus"])
def test_a_health_fault_evicts_pods_and_reports_lost_gpus(fault: Fault, lost: int, ready_after: int,
                                                          pending_after: int) -> None:
    sim = _sim(8, 2, faults=[fault])
    sim.advance(60.0)
    assert sim.pool_state("a").lost_gpus == 0
    sim.advance(120.0)                          # the first step at or after the fault's start
    assert sim.pool_state("a").lost_gpus == lost
    assert (sim.counts("llm").ready, sim.counts("llm").pending) == (ready_after, pending_after)
    sim.apply(180.0, {"llm": 8}, {"a": 3})      # a replacement node: the evicted pods bind there
    sim.advance(600.0)
    assert sim.counts("llm").starting == min(4, pending_after) and sim.pool_state("a").lost_gpus == lost
    sim.advance(700.0)                          # the fault is over: the GPUs are back
    assert sim.pool_state("a").lost_gpus == 0


def test_a_fault_spares_nodes_added_after_it_began() -> None:
    sim = _sim(4, 1, faults=[Fault("a", 0.0, 10_000.0, nodes=1)])
    sim.apply(0.0, {"llm": 4}, {"a": 2})
    assert sim.counts("llm").pending == 4
    sim.advance(420.0)
    assert (sim.pool_state("a").lost_gpus, sim.counts("llm").starting) == (4, 4)


@pytest.mark.parametrize(("asked_at", "ready_at", "paid_from"), [
    (0.0, 420.0, 0.0),          # before the stockout: arrives as usual
    (600.0, 1800.0 + 420.0, 1800.0),  # during it: boots when it ends, costs nothing until then
    (1800.0, 2220.0, 1800.0),   # at its end: as usual
], ids=["before", "during", "after"])
def test_a_stockout_holds_node_requests_until_it_ends(asked_at: float, ready_at: float, paid_from: float) -> None:
    sim = _sim(0, 0, outages=[Outage("a", 300.0, 1800.0)])
    sim.apply(asked_at, {"llm": 0}, {"a": 1})
    assert (sim.pool_state("a").ready, sim.pool_state("a").starting) == (0, 1)
    assert sim.provisioned_gpus("a") == (4 if asked_at >= paid_from else 0)
    sim.advance(ready_at - 60.0)
    assert sim.pool_state("a").ready == 0 and sim.provisioned_gpus("a") == 4 * (ready_at - 60.0 >= paid_from)
    sim.advance(ready_at)
    assert sim.pool_state("a").ready == 1


def test_zero_startup_times_act_in_the_same_step() -> None:
    cfg = _config([merged(LLM, {"workload": {"pod_startup_s": 0}})], [{**POOL_A, "node_startup_s": 0}])
    sim = FleetSimulator(cfg)
    sim.seed({"llm": 0}, {"a": 0})
    sim.apply(0.0, {"llm": 5}, {"a": 2})
    assert _counts(sim) == (5, 0, 0, 2, 0)
