"""``oracle``: perfect foresight, every replica and node ready just in time.

The physical lower bound on cost at zero under-provisioning: replicas at 100 % utilisation
of the *actual* future demand, requested exactly one pod lead time ahead and kept while any
demand in the lead window needs them; pods planned one node lead time ahead, which the fleet
packs into nodes as for every policy.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from forecastscale.config import NodePool, Target, leads
from forecastscale.policy.base import PolicyHistory
from forecastscale.types import Decision, FloatArray, Observation, Source


def _forward_max(x: FloatArray, steps: int) -> FloatArray:
    """``out[i] = max(x[i : i + steps + 1])``; the end is padded with the last value."""
    padded = np.concatenate([x, np.full(steps, x[-1])])
    out: FloatArray = sliding_window_view(padded, steps + 1).max(axis=1)
    return out


class OraclePolicy:
    """Knows ``demand`` (per decision step, the whole run) in advance."""

    name = "oracle"
    plans_nodes = True

    def __init__(self, target: Target, pool: NodePool, demand: FloatArray, decision_step_s: float) -> None:
        lead = leads(target, pool)
        need = np.ceil(demand / target.workload.capacity_per_replica - 1e-9)
        need = np.clip(need, target.scaling.min_replicas, target.scaling.max_replicas)
        self.replicas = _forward_max(need, lead.steps(lead.pod_s, decision_step_s))
        self.ahead = _forward_max(self.replicas, lead.steps(lead.node_s, decision_step_s))

    def decide(self, obs: Observation, history: PolicyHistory) -> tuple[Decision, PolicyHistory]:
        """The precomputed just-in-time counts for this step (it keeps no history)."""
        i = len(obs.demand_history)
        r, ahead = int(self.replicas[i]), int(self.ahead[i])
        return Decision(replicas=r, source=Source.ORACLE, message=f"future demand needs {r} replicas, {ahead} "
                        "within the node lead", pods_ahead=ahead), history
