"""Replay a trace through a policy and the cluster simulator, step by step.

The demand over decision step ``i`` is the time-weighted mean of the trace over
``[i·dt, (i+1)·dt)``: a trace value holds for its whole step (the trace says "this much
per second over this interval"), and a decision step spanning several trace steps averages
them. The same rule feeds every policy.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from forecastscale.backtest.scores import Scores, score
from forecastscale.backtest.simulator import ClusterSimulator
from forecastscale.config import Config, NodePool, Target
from forecastscale.errors import ConfigError
from forecastscale.policy.base import Policy
from forecastscale.policy.nodes import nodes_for
from forecastscale.policy.oracle import OraclePolicy
from forecastscale.policy.predictive import ForecastTape, PredictivePolicy, replicas_for
from forecastscale.policy.reactive import ReactivePolicy
from forecastscale.sources.csvtrace import Trace
from forecastscale.types import Decision, FloatArray, Observation

# forecast_only: the predictive policy without the target's event floors (cron schedules), so a
# scenario with a known event can show what the floor adds over the forecast alone.
POLICIES = ("reactive", "forecast_only", "predictive", "oracle")
DEFAULT_WARMUP_S = 2 * 86400.0


@dataclass(frozen=True)
class Scenario:
    """Everything a run needs: the target, its pool, demand per decision step, warm-up."""

    trace: Trace
    target: Target
    pool: NodePool
    demand: FloatArray  # target units per second, one value per decision step
    step_s: float
    warmup_steps: int
    end_step: int | None = None  # scores stop before this step (None: the end); replay may run on
    window: tuple[datetime, datetime] | None = None  # the scored span on the trace's clock, if cut to one

    @property
    def scored_end(self) -> int:
        """First step after the scored span."""
        return len(self.demand) if self.end_step is None else self.end_step


def resample(trace: Trace, step_s: float, scale: float) -> FloatArray:
    """Time-weighted mean of ``trace`` over consecutive ``step_s`` intervals, × ``scale``."""
    edges = np.arange(len(trace.values) + 1) * trace.step_s
    cumulative = np.concatenate([[0.0], np.cumsum(trace.values * trace.step_s)])
    n = math.floor(trace.duration_s / step_s + 1e-9)
    at = np.interp(np.arange(n + 1) * step_s, edges, cumulative)
    out: FloatArray = np.diff(at) / step_s * scale
    return out


def build_scenario(config: Config, target: Target, trace: Trace) -> Scenario:
    """Resample ``trace`` to the decision step and work out the warm-up span."""
    step = config.backtest.decision_interval_s
    demand = resample(trace, step, target.demand_scale)
    warmup_s = config.backtest.warmup_s
    if warmup_s is None:
        warmup_s = min(DEFAULT_WARMUP_S, 0.2 * trace.duration_s)
    warmup_steps = math.ceil(warmup_s / step)
    if warmup_steps >= len(demand):
        raise ConfigError("backtest", [
            f"backtest.warmup_s: {warmup_s:g} s leaves nothing to score in {trace.name} "
            f"({trace.duration_s:g} s at {len(demand)} steps of {step:g} s)"
        ])
    return Scenario(trace, target, config.pool_for(target), demand, step, warmup_steps)


class ForecastOnlyPolicy(PredictivePolicy):
    """The predictive policy built on a target without ``schedules``: forecast and HPA floor only."""

    name = "forecast_only"


def without_events(target: Target) -> Target:
    """``target`` with its cron ``schedules`` removed (the baselines an event floor is judged against)."""
    return target.model_copy(update={"schedules": ()})


def make_policy(name: str, sc: Scenario, tape: ForecastTape | None = None) -> Policy:
    """A fresh policy called ``name`` for scenario ``sc`` (predictive ones may share a forecast ``tape``).

    ``reactive`` is the plain HPA: the target's event floors are stripped so it stays the baseline;
    ``forecast_only`` is ``predictive`` without them (fits do not depend on events: it may share the tape).
    """
    if name == "reactive":
        return ReactivePolicy(without_events(sc.target), sc.pool)
    if name == "forecast_only":
        return ForecastOnlyPolicy(without_events(sc.target), sc.pool, sc.trace.step_s, sc.step_s, tape)
    if name == "predictive":
        return PredictivePolicy(sc.target, sc.pool, sc.trace.step_s, sc.step_s, tape)
    if name == "oracle":
        return OraclePolicy(sc.target, sc.pool, sc.demand, sc.step_s)
    raise ValueError(f"unknown policy {name!r}; have {', '.join(POLICIES)}")


@dataclass(frozen=True)
class RunResult:
    """One policy's run: scores plus per-step series for plots, and why it decided."""

    policy: str
    scores: Scores
    capacity: FloatArray  # ready replicas × capacity_per_replica
    replicas: FloatArray
    nodes: FloatArray
    reasons: dict[str, int]  # decision reason → scored steps
    # Predictive policies: the forecast in force for each step, by quantile (NaN while unfit).
    forecasts: dict[float, FloatArray] = field(default_factory=dict)


def run_policy(sc: Scenario, policy: Policy, on_progress: Callable[[int], None] | None = None) -> RunResult:
    """Replay the whole scenario; ``on_progress(steps_done)`` is called every 1,000 steps."""
    n, dt, t = len(sc.demand), sc.step_s, sc.target
    r0 = min(max(replicas_for(float(sc.demand[0]), t), t.min_replicas), t.max_replicas)
    sim = ClusterSimulator(t, sc.pool, r0, nodes_for(r0, sc.pool, t.gpus_per_pod))
    capacity, gpus, replicas, nodes = (np.zeros(n) for _ in range(4))
    reasons: Counter[str] = Counter()
    epoch = sc.trace.start.timestamp()  # cron schedules read the trace's own clock
    rolling = policy.forecast if isinstance(policy, PredictivePolicy) else None
    forecasts = {q: np.full(n, np.nan) for q in (rolling.tape.quantiles if rolling is not None else ())}
    for i in range(n):
        now = i * dt
        sim.advance(now)
        v = sim.view()
        obs = Observation(now, dt, sc.demand[:i], v.replicas, v.ready, v.starting, v.pending,
                          v.nodes_ready, v.nodes_starting, wall_s=epoch + now)
        d: Decision = policy.decide(obs)
        if rolling is not None:
            for q, path in forecasts.items():
                value = rolling.value_at(i, q)
                path[i] = np.nan if value is None else value
        sim.apply(now, d.replicas, d.nodes)
        capacity[i] = sim.pods_ready * t.capacity_per_replica
        gpus[i] = sim.provisioned_gpus
        replicas[i] = sim.replicas
        nodes[i] = sim.nodes_ready + len(sim.nodes_starting)
        if sc.warmup_steps <= i < sc.scored_end:
            reasons[d.reason] += 1
        if on_progress is not None and (i + 1) % 1000 == 0:
            on_progress(i + 1)
    end = sc.scored_end  # steps replayed past the window only keep the oracle's look-ahead true
    scores = score(sc.demand[:end], capacity[:end], gpus[:end], replicas[:end], nodes[:end], dt, sc.warmup_steps,
                   sc.pool.gpu_hour_cost, t.max_wait_s)
    return RunResult(policy.name, scores, capacity, replicas, nodes, dict(reasons), forecasts)
