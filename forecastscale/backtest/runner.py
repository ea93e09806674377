"""Replay one target's trace through a policy: a fleet of that one target on the pool-level simulator.

:func:`run_policy` is :func:`~forecastscale.backtest.loop.run_fleet` with a single member, so a single-target
backtest and ``--shared-pool`` take the very same steps (and the pools the target may spill to are replayed
too). The scenario (demand per decision step, warm-up) is :mod:`forecastscale.backtest.scenario`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from forecastscale.backtest.loop import FleetRun, fleet_scenario, run_fleet
from forecastscale.backtest.scenario import DEFAULT_WARMUP_S, Scenario, build_scenario, resample
from forecastscale.backtest.scores import Scores, score
from forecastscale.config import SloSettings, Target
from forecastscale.policy.base import Policy
from forecastscale.policy.oracle import OraclePolicy
from forecastscale.policy.predictive import PredictivePolicy
from forecastscale.policy.reactive import ReactivePolicy
from forecastscale.policy.tape import ForecastTape
from forecastscale.types import FloatArray

__all__ = ["DEFAULT_WARMUP_S", "POLICIES", "RunResult", "Scenario", "build_scenario", "make_policy", "resample",
           "run_policy", "target_result", "with_slo"]

# forecast_only: the predictive policy without the target's event floors (cron schedules), so a
# scenario with a known event can show what the floor adds over the forecast alone.
POLICIES = ("reactive", "forecast_only", "predictive", "oracle")


class ForecastOnlyPolicy(PredictivePolicy):
    """The predictive policy built on a target without cron events (``events.cron``): forecast and HPA floor only."""

    name = "forecast_only"


def without_events(target: Target) -> Target:
    """``target`` with its cron events removed (the baselines an event floor is judged against)."""
    return target.model_copy(update={"events": target.events.model_copy(update={"cron": ()})})


def with_slo(sc: Scenario, slo: SloSettings | None) -> Scenario:
    """``sc`` with its target's SLO replaced: None replays the knobs (``forecast.quantile``,
    ``scaling.target_utilisation``), as a sweep or tune varies them."""
    if sc.target.slo == slo:
        return sc
    return replace(sc, target=sc.target.model_copy(update={"slo": slo}))


def make_policy(name: str, sc: Scenario, tape: ForecastTape | None = None) -> Policy:
    """A fresh policy called ``name`` for scenario ``sc`` (predictive ones may share a forecast ``tape``).

    ``reactive`` is the plain HPA: the target's event floors are stripped so it stays the baseline;
    ``forecast_only`` is ``predictive`` without them (fits do not depend on events: it may share the tape).
    Announced events (``backtest.events``) reach every policy, as they reach the live one.
    """
    if name == "reactive":
        return ReactivePolicy(without_events(sc.target))
    if name == "forecast_only":
        return ForecastOnlyPolicy(without_events(sc.target), sc.pool, sc.trace.step_s, sc.step_s, tape)
    if name == "predictive":
        return PredictivePolicy(sc.target, sc.pool, sc.trace.step_s, sc.step_s, tape)
    if name == "oracle":
        return OraclePolicy(sc.target, sc.pool, sc.demand, sc.step_s)
    raise ValueError(f"unknown policy {name!r}; have {', '.join(POLICIES)}")


@dataclass(frozen=True)
class RunResult:
    """One policy's run of one target: scores plus per-step series for plots, and why it decided."""

    policy: str
    scores: Scores
    capacity: FloatArray  # ready replicas × capacity_per_replica
    replicas: FloatArray
    nodes: FloatArray  # nodes of the replayed pools, asked for and not removed (shared by a fleet's targets)
    reasons: dict[str, int]  # decision reason → scored steps
    # Predictive policies: the forecast in force for each step, by quantile (NaN while unfit).
    forecasts: dict[float, FloatArray] = field(default_factory=dict)
    gpus: FloatArray = field(default_factory=lambda: np.zeros(0))  # provisioned GPUs attributed to the target


def target_result(run: FleetRun, name: str, policy: str) -> RunResult:
    """Target ``name``'s scores and series in ``run``, scored over the fleet's span."""
    fs, s = run.scenario, run.targets[name]
    sc = next(m for m in fs.members if m.target.name == name)
    end, w, dt = fs.end_step, fs.warmup_steps, fs.step_s
    nodes = run.nodes_total
    scores = score(sc.demand[:end], s.capacity[:end], s.gpus[:end], s.replicas[:end], nodes[:end], dt, w, 0.0,
                   sc.target.workload.max_wait_s)
    scores = replace(scores, cost=float(s.cost[w:end].sum() * dt / 3600.0))
    return RunResult(policy, scores, s.capacity, s.replicas, nodes, dict(s.reasons), s.forecasts, s.gpus)


def run_policy(sc: Scenario, policy: Policy, on_progress: Callable[[int], None] | None = None) -> RunResult:
    """Replay the whole scenario; ``on_progress(steps_done)`` is called every 1,000 steps."""
    run = run_fleet(fleet_scenario([sc]), {sc.target.name: policy}, on_progress)
    return target_result(run, sc.target.name, policy.name)
