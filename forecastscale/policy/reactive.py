"""``reactive``: a Kubernetes HPA v2 on ready-replica utilisation plus cluster-autoscaler nodes."""

from __future__ import annotations

from forecastscale.config import NodePool, Target
from forecastscale.policy import behavior, hpa
from forecastscale.policy.nodes import UnneededSince, cluster_autoscaler
from forecastscale.types import Decision, Observation


def hpa_input(obs: Observation, target: Target) -> hpa.HpaInput:
    """The HPA's view of ``obs``: the last completed step's demand (one step of metric lag)."""
    demand = float(obs.demand_history[-1]) if len(obs.demand_history) else 0.0
    return hpa.HpaInput(
        current_replicas=obs.current_replicas,
        ready_replicas=obs.ready_replicas,
        unready_replicas=obs.starting_replicas + obs.pending_replicas,
        demand=demand,
        capacity_per_replica=target.capacity_per_replica,
        target_utilisation=target.target_utilisation,
        tolerance=target.tolerance,
    )


class ReactivePolicy:
    """HPA replica calculator → behaviour (stabilisation, rate) → bounds; CA-like nodes."""

    name = "reactive"

    def __init__(self, target: Target, pool: NodePool) -> None:
        self.target = target
        self.pool = pool
        self.behavior = behavior.BehaviorHistory()  # explicit: the live loop persists it
        self._nodes = UnneededSince()

    def decide(self, obs: Observation) -> Decision:
        """One HPA sync plus one cluster-autoscaler loop."""
        t = self.target
        raw, why = hpa.recommend(hpa_input(obs, t))
        norm = behavior.normalize(
            raw, obs.current_replicas, obs.t, self.behavior, t.behavior, t.min_replicas, t.max_replicas
        )
        self.behavior = norm.history
        nodes, node_why, self._nodes = cluster_autoscaler(obs, self.pool, t.gpus_per_pod, self._nodes)
        reason = "reactive" if norm.limit is None else f"reactive/{norm.limit}"
        message = f"hpa {raw} ({why}) → {norm.replicas}; nodes: {node_why}"
        return Decision(norm.replicas, nodes, reason, message, {"reactive": raw})
