"""What one target's replay reads: its demand per decision step, resampled from a trace, and the scored span.

The demand over decision step ``i`` is the time-weighted mean of the trace over
``[i·dt, (i+1)·dt)``: a trace value holds for its whole step (the trace says "this much
per second over this interval"), and a decision step spanning several trace steps averages
them. The same rule feeds every policy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from forecastscale.config import Config, NodePool, Target
from forecastscale.errors import ConfigError
from forecastscale.sources.csvtrace import Trace
from forecastscale.types import FloatArray

DEFAULT_WARMUP_S = 2 * 86400.0


@dataclass(frozen=True)
class Scenario:
    """Everything a run of one target needs: its trace, its pool, demand per decision step, warm-up.

    ``config`` holds the pools the target may spill to and the replayed events and faults (None: the target
    alone on ``pool``); ``offset_s`` is how long after the trace file's first row the replay starts (a
    ``--window`` cut), so that config times in seconds keep meaning the file's clock."""

    trace: Trace
    target: Target
    pool: NodePool
    demand: FloatArray  # target units per second, one value per decision step
    step_s: float
    warmup_steps: int
    end_step: int | None = None  # scores stop before this step (None: the end); replay may run on
    window: tuple[datetime, datetime] | None = None  # the scored span on the trace's clock, if cut to one
    config: Config | None = None
    offset_s: float = 0.0

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


def with_regime_change(trace: Trace, target: Target) -> Trace:
    """``trace`` as ``target.backtest.regime_change`` replays it (unchanged without one): from its ``at`` on, the
    value of ``shift_s`` earlier (whole trace steps), × ``scale``; extra columns shifted alike, not scaled."""
    rc = target.backtest.regime_change
    if rc is None:
        return trace
    at_s = rc.at if isinstance(rc.at, float) else (rc.at - trace.start).total_seconds()
    k, lag = max(0, math.ceil(at_s / trace.step_s - 1e-9)), round(rc.shift_s / trace.step_s)
    if k >= len(trace.values):
        return trace

    source = np.maximum(np.arange(k, len(trace.values)) - lag, 0)  # before the first row: the first row

    def moved(v: FloatArray, scale: float) -> FloatArray:
        out = v.copy()
        out[k:] = v[source] * scale
        return out

    return replace(trace, values=moved(trace.values, rc.scale),
                   columns={name: moved(c, 1.0) for name, c in trace.columns.items()})


def build_scenario(config: Config, target: Target, trace: Trace) -> Scenario:
    """Resample ``trace`` (with its regime change, if any) to the decision step and work out the warm-up span."""
    trace = with_regime_change(trace, target)
    step = config.backtest.decision_interval_s
    demand = resample(trace, step, target.workload.demand_scale)
    warmup_s = config.backtest.warmup_s
    if warmup_s is None:
        warmup_s = min(DEFAULT_WARMUP_S, 0.2 * trace.duration_s)
    warmup_steps = math.ceil(warmup_s / step)
    if warmup_steps >= len(demand):
        raise ConfigError("backtest", [
            f"backtest.warmup_s: {warmup_s:g} s leaves nothing to score in {trace.name} "
            f"({trace.duration_s:g} s at {len(demand)} steps of {step:g} s)"
        ])
    return Scenario(trace, target, config.pool_for(target), demand, step, warmup_steps, config=config)
