"""The policy interface: one decision per tick from what is knowable at that tick, on history the caller owns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

from forecastscale.policy.behavior import BehaviorHistory
from forecastscale.policy.burst import BurstState
from forecastscale.policy.calibration import Calibration
from forecastscale.policy.guardrail import GuardState
from forecastscale.types import Decision, Observation


@dataclass(frozen=True)
class PolicyHistory:
    """What a policy remembers between ticks, owned by the caller (as the HPA controller owns its
    recommendations and scale events): the behaviour history and the panic-mode state.

    A policy returns the next history with its recommendation recorded; the caller records a scale
    event (:meth:`scaled`) only once the change was made, and persists the history (the plan). With an SLO
    the calibrated margin lives here too, and with a guardrail its scores and state, so a failover keeps them.
    """

    behavior: BehaviorHistory = field(default_factory=BehaviorHistory)
    burst: BurstState = field(default_factory=BurstState)
    calibration: Calibration | None = None  # with an SLO: the margin and the measured miss share
    guardrail: GuardState | None = None  # with guardrail.enabled: the shadow scores and what provisions

    def scaled(self, t: float, change: int) -> PolicyHistory:
        """With the scale event ``change`` (replicas, signed) made at ``t`` (nothing if 0)."""
        return self if change == 0 else replace(self, behavior=self.behavior.scaled(t, change))


class Policy(Protocol):
    """``decide(obs, history)`` for successive ticks.

    A policy reads nothing but the observation and the history it is handed (and, for ``oracle``
    only, the future it is built with): no clock, no I/O, so the backtest and the live loop call
    the same code. Its forecaster's fits are a cache of the demand history, not history.
    """

    name: str
    plans_nodes: bool  # True: nodes follow its look-ahead (pods_ahead); False: a cluster autoscaler's

    def decide(self, obs: Observation, history: PolicyHistory) -> tuple[Decision, PolicyHistory]:
        """Replicas wanted now with the reason, and the history with this tick's recommendation."""
        ...
