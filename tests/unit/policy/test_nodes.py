"""Cluster-autoscaler-like node sizing on hand-worked pod counts (4 pods per node)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from forecastscale.config import Config
from forecastscale.policy.nodes import UnneededSince, cluster_autoscaler, nodes_for
from forecastscale.types import Observation


def _obs(t: float, ready: int, starting: int, pending: int, nodes_ready: int, nodes_starting: int) -> Observation:
    return Observation(t, 60.0, np.zeros(0), ready + starting + pending, ready, starting, pending,
                       nodes_ready, nodes_starting)


def test_adds_nodes_for_pending_pods_not_covered_by_starting_nodes(make_config: Callable[..., Config]) -> None:
    pool = make_config().node_pools[0]
    nodes, why, _ = cluster_autoscaler(_obs(0, 8, 0, 5, 2, 0), pool, 1, UnneededSince())
    assert nodes == 4 and "+2" in why  # 5 pending → 2 new nodes
    nodes, _, _ = cluster_autoscaler(_obs(0, 8, 0, 5, 2, 1), pool, 1, UnneededSince())
    assert nodes == 4  # one node already starting takes 4 of the 5: one more


def test_removes_a_node_only_after_600_s_unneeded(make_config: Callable[..., Config]) -> None:
    pool = make_config().node_pools[0]
    state = UnneededSince()
    counts = []
    for t in range(0, 720, 60):  # 5 ready nodes, 8 pods: 3 nodes unneeded from t=0
        nodes, _, state = cluster_autoscaler(_obs(t, 8, 0, 0, 5, 0), pool, 1, state)
        counts.append(nodes)
    assert counts[:10] == [5] * 10  # t = 0 … 540
    assert counts[10] == 2  # t = 600: unneeded for 600 s


def test_a_busy_spell_restarts_the_unneeded_timer(make_config: Callable[..., Config]) -> None:
    pool = make_config().node_pools[0]
    state = UnneededSince()
    _, _, state = cluster_autoscaler(_obs(0, 8, 0, 0, 5, 0), pool, 1, state)  # 3 unneeded
    _, _, state = cluster_autoscaler(_obs(300, 20, 0, 0, 5, 0), pool, 1, state)  # all needed
    nodes, _, state = cluster_autoscaler(_obs(360, 8, 0, 0, 5, 0), pool, 1, state)
    assert state.since == (360.0, 360.0, 360.0)
    nodes, _, _ = cluster_autoscaler(_obs(700, 8, 0, 0, 5, 0), pool, 1, state)
    assert nodes == 5  # 340 s since the busy spell: not yet


def test_nodes_for_packs_whole_pods_within_bounds(make_config: Callable[..., Config]) -> None:
    pool = make_config(pool={"gpus_per_node": 8, "min_nodes": 1, "max_nodes": 3}).node_pools[0]
    assert nodes_for(0, pool, 3) == 1  # min_nodes
    assert nodes_for(4, pool, 3) == 2  # 2 pods of 3 GPUs per 8-GPU node
    assert nodes_for(100, pool, 1) == 3  # max_nodes
