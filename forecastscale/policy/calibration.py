"""The SLO-holding margin, calibrated online (pure): adaptive conformal inference on the realised service level.

A predictive target with an SLO provisions for ``median + margin × (upper − median)`` of its forecast
(the band from the median to the configured quantile, in *band widths*). After every step the margin
moves by ``gain × (err − α)``, where ``err`` (0–1) says how far the last completed step missed the
SLO and ``α`` is the miss rate the SLO allows — the update of adaptive conformal inference (Gibbs &
Candès, NeurIPS 2021), applied to the realised service level instead of to the forecast's own
coverage. A miss raises the margin by ``gain × (1 − α)``, a hit lowers it by ``gain × α``, so the
long-run share of misses converges to ``α`` whatever the forecast's errors are and however they
shift; the margin is kept within ``[min_margin, max_margin]``.

What a step's ``err`` is comes from the observations alone (the same in the live loop and the backtest):
demand over the last completed step against the ready capacity that served it — the ready capacity seen
at the previous tick, kept in the state (pods that turned Ready since did not serve that step; counting
them would hide the misses of every scale-up and hold the SLO too loosely). ``measured`` is an
exponential average of ``err`` over ``window_s`` (what is exported against the SLO). The state lives in
the history the caller owns, so the plan carries it across a failover.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

from forecastscale.config import SloSettings, Target
from forecastscale.types import Observation, underprovisioned


@dataclass(frozen=True)
class Calibration:
    """The margin now (band widths above the median) and the measured miss share (0–1, None until a step)."""

    margin: float = 1.0
    measured: float | None = None
    capacity: float | None = None  # ready capacity (demand units/s) at the previous tick: what served the last step


def ready_capacity(obs: Observation, target: Target) -> float:
    """Demand units/s the ready replicas serve now."""
    return obs.ready_replicas * target.workload.capacity_per_replica


def miss(obs: Observation, target: Target, slo: SloSettings, served_by: float | None = None) -> float | None:
    """How far the last completed step missed ``slo`` (0–1), against the capacity ``served_by`` it (default: the
    ready capacity now); None without a demand sample."""
    if len(obs.demand_history) == 0:
        return None
    demand = float(obs.demand_history[-1])
    capacity = ready_capacity(obs, target) if served_by is None else served_by
    if slo.metric == "underprovisioned_pct":
        return float(underprovisioned(demand, capacity))
    excess = max(0.0, demand - capacity)
    if slo.metric == "unserved_pct":
        return excess / demand if demand > 0 else 0.0
    # p99_wait_s: the wait a request arriving now meets, from the queue when it is measured, else from the
    # backlog the step's excess built; no capacity at all waits for ever.
    backlog = obs.queue if obs.queue is not None else excess * obs.step_s
    wait = backlog / capacity if capacity > 0 else (float("inf") if backlog > 0 else 0.0)
    return 1.0 if wait > slo.target else 0.0


def update(cal: Calibration, err: float, slo: SloSettings, step_s: float, capacity: float | None = None) -> Calibration:
    """One step of the margin (see the module docstring) and of the measured average; ``capacity`` (the ready
    capacity now) is kept to judge the next step."""
    margin = min(max(cal.margin + slo.gain * (err - slo.miss_rate()), slo.min_margin), slo.max_margin)
    weight = min(1.0, step_s / slo.window_s)
    measured = err if cal.measured is None else cal.measured + weight * (err - cal.measured)
    return Calibration(margin, measured, capacity)


def level(margin: float, quantile: float) -> float:
    """The quantile a margin amounts to if the band were Gaussian: ``Φ(margin × Φ⁻¹(quantile))`` (export only)."""
    z = NormalDist().inv_cdf(quantile)
    return NormalDist().cdf(margin * z)
