"""Node-pool sizing for identical GPU pods: pure arithmetic on pod and node counts.

With one pod shape per pool, first-fit packing of ``p`` pods needs exactly
``ceil(p / pods_per_node)`` nodes, where ``pods_per_node = gpus_per_node // gpus_per_pod``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from forecastscale.config import NodePool
from forecastscale.types import Observation


def pods_per_node(pool: NodePool, gpus_per_pod: int) -> int:
    """How many pods of ``gpus_per_pod`` GPUs fit on one node of ``pool``."""
    return pool.gpus_per_node // gpus_per_pod


def nodes_for(pods: int, pool: NodePool, gpus_per_pod: int) -> int:
    """Nodes that hold ``pods`` pods, within the pool's bounds."""
    need = math.ceil(pods / pods_per_node(pool, gpus_per_pod))
    return min(max(need, pool.min_nodes), pool.max_nodes)


@dataclass(frozen=True)
class UnneededSince:
    """For each surplus node (oldest first), since when (seconds) it has been unneeded."""

    since: tuple[float, ...] = ()


def cluster_autoscaler(
    obs: Observation, pool: NodePool, gpus_per_pod: int, state: UnneededSince
) -> tuple[int, str, UnneededSince]:
    """Cluster-autoscaler-like node count: add for pending pods, remove after unneeded time.

    Scale-up: enough new nodes for the pending pods that nodes already starting cannot take.
    Scale-down: a node counts as unneeded while the bound pods fit on the other ready nodes;
    after ``pool.scale_down_unneeded_s`` unneeded, it is removed. When the surplus shrinks,
    the oldest timers go first (those nodes were removed, or are needed again).
    """
    k = pods_per_node(pool, gpus_per_pod)
    nodes = obs.nodes_ready + obs.nodes_starting
    missing = obs.pending_replicas - obs.nodes_starting * k
    if missing > 0:
        add = math.ceil(missing / k)
        wanted = min(nodes + add, pool.max_nodes)
        return max(wanted, pool.min_nodes), f"{obs.pending_replicas} pods pending: +{add} nodes", UnneededSince()
    bound = obs.ready_replicas + obs.starting_replicas
    surplus = 0 if obs.pending_replicas else max(0, obs.nodes_ready - math.ceil(bound / k))
    since = state.since[len(state.since) - surplus:] if surplus < len(state.since) else (
        state.since + (obs.t,) * (surplus - len(state.since))
    )
    removable = sum(1 for s in since if obs.t - s >= pool.scale_down_unneeded_s)
    wanted = max(nodes - removable, pool.min_nodes)
    if wanted < nodes:
        return wanted, f"{nodes - wanted} nodes unneeded for {pool.scale_down_unneeded_s:g} s", UnneededSince(since)
    return nodes, f"{surplus} nodes unneeded, none long enough", UnneededSince(since)
