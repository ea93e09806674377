"""``reactive``: a Kubernetes HPA v2 on the target's metrics plus cluster-autoscaler nodes."""

from __future__ import annotations

from forecastscale.config import NodePool, Target
from forecastscale.policy import behavior, rules
from forecastscale.policy.events import with_events
from forecastscale.policy.nodes import UnneededSince, cluster_autoscaler
from forecastscale.types import Decision, Observation


class ReactivePolicy:
    """HPA replica calculator per metric (largest wins) → behaviour (stabilisation, rate) → bounds; CA-like nodes."""

    name = "reactive"

    def __init__(self, target: Target, pool: NodePool) -> None:
        self.target = target
        self.pool = pool
        self.behavior = behavior.BehaviorHistory()  # explicit: the live loop persists it
        self._nodes = UnneededSince()

    def decide(self, obs: Observation) -> Decision:
        """One HPA sync plus one cluster-autoscaler loop."""
        t = self.target
        rec = rules.recommend(obs, t)
        candidates = {"reactive": rec.replicas}
        source, raw, note = with_events(obs, t, "reactive", rec.replicas, candidates)
        why = rec.message + note
        norm = behavior.normalize(
            raw, obs.current_replicas, obs.t, self.behavior, t.behavior, t.min_replicas, t.max_replicas
        )
        self.behavior = norm.history
        nodes, node_why, self._nodes = cluster_autoscaler(obs, self.pool, t.gpus_per_pod, self._nodes)
        reason = source if norm.limit is None else f"{source}/{norm.limit}"
        message = f"hpa {raw} ({why}) → {norm.replicas}; nodes: {node_why}"
        return Decision(norm.replicas, nodes, reason, message, candidates)
