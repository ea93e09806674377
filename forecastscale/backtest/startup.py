"""Start-up times the simulated cluster gives each pod and node (seconds): the config's constants, or drawn.

With ``backtest.startup`` (:class:`~forecastscale.config.StartupDraws`) every pod's start-up (bound → Ready) and
every node's (requested, or booting after a stockout → Ready) is drawn from a log-normal of the given ``p50`` and
``p90`` — ``p50 · exp(σ·z)``, ``σ = ln(p90/p50) / 1.2816``, ``z`` standard normal — times a drift factor going
linearly from 1 at the run's start to ``drift`` at its end (``span_s``). Pods and nodes draw from two streams of
``numpy.random.default_rng`` seeded with ``seed``, so a run is reproducible and the pods' draws do not depend on
how many nodes were asked for. A side without a distribution keeps its constant (``pod_startup_s``,
``node_startup_s``), and without ``backtest.startup`` nothing is drawn at all: existing results do not move.
"""

from __future__ import annotations

import math

import numpy as np

from forecastscale.config import NodePool, Spread, StartupDraws, Target


class Startup:
    """Start-up times per event: :meth:`pod` and :meth:`node` at run time ``t`` (seconds)."""

    def __init__(self, draws: StartupDraws | None = None, span_s: float = 0.0) -> None:
        self.draws, self.span_s = draws, span_s
        seed = draws.seed if draws is not None else 0
        self._pods, self._nodes = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])

    def pod(self, target: Target, t: float) -> float:
        """Seconds from binding to Ready for a pod of ``target`` bound at ``t``."""
        spread = self.draws.pod if self.draws is not None else None
        return self._draw(spread, self._pods, t) if spread is not None else target.workload.pod_startup_s

    def node(self, pool: NodePool, t: float) -> float:
        """Seconds from booting to Ready for a node of ``pool`` booting at ``t``."""
        spread = self.draws.node if self.draws is not None else None
        return self._draw(spread, self._nodes, t) if spread is not None else pool.node_startup_s

    def factor(self, t: float) -> float:
        """The drift at ``t``: 1 at the start, ``drift`` at ``span_s`` (linear, held beyond)."""
        if self.draws is None or self.span_s <= 0:
            return 1.0
        return 1.0 + (self.draws.drift - 1.0) * min(max(t / self.span_s, 0.0), 1.0)

    def _draw(self, spread: Spread, rng: np.random.Generator, t: float) -> float:
        return spread.p50 * math.exp(spread.sigma * float(rng.standard_normal())) * self.factor(t)
