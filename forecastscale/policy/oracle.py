"""``oracle``: perfect foresight, every replica and node ready just in time.

The physical lower bound on cost at zero under-provisioning: replicas at 100 % utilisation
of the *actual* future demand, requested exactly one pod lead time ahead and kept while any
demand in the lead window needs them; nodes likewise one node lead time ahead.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from forecastscale.config import NodePool, Target
from forecastscale.policy.nodes import pods_per_node
from forecastscale.types import Decision, FloatArray, Observation


def _forward_max(x: FloatArray, steps: int) -> FloatArray:
    """``out[i] = max(x[i : i + steps + 1])``; the end is padded with the last value."""
    padded = np.concatenate([x, np.full(steps, x[-1])])
    out: FloatArray = sliding_window_view(padded, steps + 1).max(axis=1)
    return out


class OraclePolicy:
    """Knows ``demand`` (per decision step, the whole run) in advance."""

    name = "oracle"

    def __init__(self, target: Target, pool: NodePool, demand: FloatArray, decision_step_s: float) -> None:
        need = np.ceil(demand / target.capacity_per_replica - 1e-9)
        need = np.clip(need, target.min_replicas, target.max_replicas)
        self.replicas = _forward_max(need, math.ceil(target.pod_startup_s / decision_step_s))
        node_need = np.ceil(self.replicas / pods_per_node(pool, target.gpus_per_pod))
        node_need = np.clip(node_need, pool.min_nodes, pool.max_nodes)
        self.nodes = _forward_max(node_need, math.ceil(pool.node_startup_s / decision_step_s))

    def decide(self, obs: Observation) -> Decision:
        """The precomputed just-in-time counts for this step."""
        i = len(obs.demand_history)
        r, n = int(self.replicas[i]), int(self.nodes[i])
        return Decision(r, n, "oracle", f"future demand needs {r} replicas, {n} nodes")
