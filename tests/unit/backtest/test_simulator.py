"""Cluster simulator lead times and scale-down order (pod 180 s, node 420 s, 4 pods per node)."""

from __future__ import annotations

from collections.abc import Callable

from forecastscale.backtest.simulator import ClusterSimulator
from forecastscale.config import Config


def _sim(make_config: Callable[..., Config], replicas: int, nodes: int, **target: object) -> ClusterSimulator:
    cfg = make_config(target=target)
    return ClusterSimulator(cfg.targets[0], cfg.node_pools[0], replicas, nodes)


def _counts(sim: ClusterSimulator) -> tuple[int, int, int, int, int]:
    v = sim.view()
    return v.ready, v.starting, v.pending, v.nodes_ready, v.nodes_starting


def test_pods_with_room_are_ready_after_pod_startup(make_config: Callable[..., Config]) -> None:
    sim = _sim(make_config, 1, 1)
    sim.apply(0.0, 3, 1)
    assert _counts(sim) == (1, 2, 0, 1, 0)
    sim.advance(179.0)
    assert sim.view().ready == 1
    sim.advance(180.0)
    assert _counts(sim) == (3, 0, 0, 1, 0)


def test_pods_without_room_wait_for_the_node_then_start(make_config: Callable[..., Config]) -> None:
    sim = _sim(make_config, 4, 1)
    sim.apply(0.0, 6, 2)
    assert _counts(sim) == (4, 0, 2, 1, 1)
    sim.advance(419.0)
    assert _counts(sim) == (4, 0, 2, 1, 1)
    sim.advance(420.0)  # node ready: pods bind now, ready 180 s later
    assert _counts(sim) == (4, 2, 0, 2, 0)
    sim.advance(599.0)
    assert sim.view().ready == 4
    sim.advance(600.0)
    assert sim.view().ready == 6


def test_scale_down_removes_pending_then_newest_starting_then_ready(make_config: Callable[..., Config]) -> None:
    sim = _sim(make_config, 2, 1)
    sim.apply(0.0, 3, 1)      # 1 starting (ready at 180)
    sim.apply(60.0, 7, 1)     # 1 more starting (ready at 240), 3 pending (node full)
    assert _counts(sim) == (2, 2, 3, 1, 0)
    sim.apply(120.0, 3, 1)    # remove 3 pending, then the newest starting pod
    assert _counts(sim) == (2, 1, 0, 1, 0)
    assert list(sim.pods_starting) == [180.0]
    sim.apply(130.0, 1, 1)    # then the last starting pod, then a ready one
    assert _counts(sim) == (1, 0, 0, 1, 0)


def test_only_empty_nodes_are_removed_starting_ones_first(make_config: Callable[..., Config]) -> None:
    sim = _sim(make_config, 5, 3)  # 5 pods fill 2 of 3 nodes
    sim.apply(0.0, 5, 4)           # one node starting
    sim.apply(60.0, 5, 0)          # ask for none: cancel the starting node, remove the 1 empty node
    assert _counts(sim) == (5, 0, 0, 2, 0)
    assert sim.provisioned_gpus == 8


def test_zero_startup_times_act_in_the_same_step(make_config: Callable[..., Config]) -> None:
    cfg = make_config(target={"pod_startup_s": 0}, pool={"node_startup_s": 0})
    sim = ClusterSimulator(cfg.targets[0], cfg.node_pools[0], 0, 0)
    sim.apply(0.0, 5, 2)
    assert _counts(sim) == (5, 0, 0, 2, 0)
