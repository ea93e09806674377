"""``reactive``: a Kubernetes HPA v2 on the target's metrics; nodes as a cluster autoscaler adds them (fleet)."""

from __future__ import annotations

from forecastscale.config import Target
from forecastscale.policy import rules, zero
from forecastscale.policy.base import PolicyHistory
from forecastscale.policy.events import with_events
from forecastscale.types import Decision, Observation, Source


class ReactivePolicy:
    """HPA replica calculator per metric (largest wins) → event floor → behaviour (stabilisation, rate) → bounds.

    Nodes are not planned ahead (``plans_nodes`` False): the fleet sizes pools for the pods that exist, as a
    cluster autoscaler does, and removes a node once unneeded for the pool's ``scale_down_unneeded_s``.
    """

    name = "reactive"
    plans_nodes = False

    def __init__(self, target: Target) -> None:
        self.target = target

    def decide(self, obs: Observation, history: PolicyHistory) -> tuple[Decision, PolicyHistory]:
        """One HPA sync."""
        t = self.target
        rec = rules.recommend(obs, t)
        candidates = {"reactive": rec.replicas}
        # The default demand rule is the HPA's; a target's own metric rules are named "rule".
        first = Source.RULE if t.scaling.metrics else Source.REACTIVE
        source, raw, note = with_events(obs, t, first, rec.replicas, candidates)
        # min_replicas 0: KEDA's activation — to 0 once idle for idle_s, back to 1 at once on demand or a queue.
        lowest = zero.floor(obs, t)
        source, raw, wake = zero.woken(obs, lowest, source, raw)
        norm = zero.settle(raw, obs, history.behavior, t.scaling.behavior, t, lowest)
        decision = Decision(replicas=norm.replicas, source=source, limits=norm.limits,
                            message=f"hpa {raw} ({rec.message}{note}{wake}) → {norm.replicas}", candidates=candidates)
        return decision, PolicyHistory(norm.history, history.burst)
