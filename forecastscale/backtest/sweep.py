"""Cost–SLO frontiers: each policy over a grid of its own knobs, and GPU-hours at matched SLO.

Comparing policies at one knob setting says little (one may look cheaper only because it
serves worse). A sweep runs every point of each policy's grid, keeps the Pareto frontier
(no other point is both cheaper and better on the SLO metric) and reads each frontier's
GPU-hours at the same SLO levels.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from typing import Any

from forecastscale.backtest.runner import Scenario, make_policy, run_policy, with_slo
from forecastscale.backtest.scores import Scores
from forecastscale.config import Target
from forecastscale.policy.tape import ForecastTape, RollingForecast, make_tape

UTILISATIONS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
# The reactive HPA gets lower targets too: on bursty traces it never reaches the SLO levels
# that matter otherwise, and a frontier it cannot reach says less than one it can.
REACTIVE_UTILISATIONS = (0.1, 0.15, 0.2, 0.25, *UTILISATIONS)
QUANTILES = (0.5, 0.8, 0.9, 0.95, 0.99)
SLO_METRICS = ("underprovisioned_pct", "unserved_pct", "p99_wait_s")
DEFAULT_LEVELS = {"underprovisioned_pct": (0.1, 0.5, 1.0, 2.0), "unserved_pct": (0.1, 0.5, 1.0, 2.0),
                  "p99_wait_s": (1.0, 5.0, 15.0, 30.0)}

Params = dict[str, float]
# Where each swept knob lives in a target: (section, field). Each policy has its own utilisation, so tuning the
# predictive one (``forecast.target_utilisation``) never moves the reactive baseline (``scaling.…``).
KNOBS: dict[str, tuple[str, str]] = {"target_utilisation": ("scaling", "target_utilisation"),
                                     "quantile": ("forecast", "quantile")}
FORECAST_KNOBS: dict[str, tuple[str, str]] = {**KNOBS, "target_utilisation": ("forecast", "target_utilisation")}


def knobs(policy: str) -> dict[str, tuple[str, str]]:
    """Where ``policy``'s swept knobs live: the reactive HPA's utilisation in ``scaling``, a forecasting policy's
    in ``forecast``."""
    return KNOBS if policy == "reactive" else FORECAST_KNOBS


def grid(policy: str) -> list[Params]:
    """The knobs swept for ``policy``: reactive by utilisation; predictive by utilisation × quantile."""
    if policy == "reactive":
        return [{"target_utilisation": u} for u in REACTIVE_UTILISATIONS]
    if policy == "predictive":
        return [{"target_utilisation": u, "quantile": q} for u in UTILISATIONS for q in QUANTILES]
    raise ValueError(f"no sweep grid for policy {policy!r}; have reactive, predictive")


def with_params(target: Target, params: Params, policy: str = "reactive") -> Target:
    """``target`` with ``policy``'s swept knobs set, each in its own section (:func:`knobs`)."""
    update: dict[str, Any] = {}
    for knob, value in params.items():
        section, field = knobs(policy)[knob]
        update[section] = update.get(section, getattr(target, section)).model_copy(update={field: value})
    return target.model_copy(update=update)


@dataclass(frozen=True)
class Point:
    """One policy at one knob setting, and its scores."""

    policy: str
    params: Params
    scores: Scores

    def metric(self, name: str) -> float:
        """The SLO metric ``name`` of this point."""
        return float(getattr(self.scores, name))


def run_point(sc: Scenario, policy: str, params: Params, tape: ForecastTape | None = None) -> Point:
    """Replay ``sc`` under ``policy`` with ``params`` applied to its target."""
    variant = replace(sc, target=with_params(sc.target, params, policy))
    return Point(policy, params, run_policy(variant, make_policy(policy, variant, tape)).scores)


def shared_tape(sc: Scenario, quantiles: Sequence[float] = QUANTILES) -> ForecastTape:
    """Every fit the predictive policy makes on ``sc``, for all ``quantiles``, computed once."""
    tape = make_tape(sc.target, sc.pool, sc.trace.step_s, sc.step_s, tuple(quantiles))
    rolling = RollingForecast(tape, sc.target.forecast.quantile, sc.step_s)
    for i in range(len(sc.demand)):  # the policy's own refit schedule, so its fits all hit
        rolling.window_max(sc.demand[:i], i, 0)
    return tape


def sweep(sc: Scenario, policies: Sequence[str], jobs: int | None = None,
          on_done: Callable[[Point], None] | None = None,
          grids: dict[str, list[Params]] | None = None) -> list[Point]:
    """Run every grid point of ``policies`` on ``sc``; ``jobs`` processes (1: in this process).

    ``grids`` replaces a policy's default :func:`grid` (e.g. a smaller one in tests). A sweep varies the knobs,
    so a target's SLO is set aside (an SLO would calibrate the margin the knobs set).
    """
    sc = with_slo(sc, None)
    tasks = [(p, params) for p in policies for params in (grids or {}).get(p, grid(p))]
    quantiles = {params["quantile"] for p, params in tasks if "quantile" in params}
    tape = shared_tape(sc, tuple(quantiles)) if "predictive" in policies else None
    jobs = jobs or os.cpu_count() or 1
    points: list[Point] = []
    if jobs == 1:
        for policy, params in tasks:
            points.append(run_point(sc, policy, params, tape))
            if on_done:
                on_done(points[-1])
        return points
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_point, sc, policy, params, tape) for policy, params in tasks]
        for future in as_completed(futures):
            if on_done:
                on_done(future.result())
        points = [f.result() for f in futures]  # grid order, whatever order they finished in
    return points


def pareto(points: Sequence[Point], metric: str) -> list[Point]:
    """Non-dominated points, by ``metric`` ascending (GPU-hours then strictly descending)."""
    frontier: list[Point] = []
    for p in sorted(points, key=lambda p: (p.metric(metric), p.scores.gpu_hours)):
        if not frontier or p.scores.gpu_hours < frontier[-1].scores.gpu_hours:
            frontier.append(p)
    return frontier


def gpu_hours_at(frontier: Sequence[Point], metric: str, level: float) -> float | None:
    """GPU-hours the frontier needs to keep ``metric`` at ``level``, interpolated linearly
    between the two frontier points around it; None when no point is that good."""
    if not frontier or frontier[0].metric(metric) > level:
        return None
    below = [p for p in frontier if p.metric(metric) <= level]
    k = len(below) - 1
    if k == len(frontier) - 1:
        return frontier[k].scores.gpu_hours  # the cheapest point already meets the level
    a, b = frontier[k], frontier[k + 1]
    span = b.metric(metric) - a.metric(metric)
    weight = (level - a.metric(metric)) / span if span > 0 else 0.0
    return a.scores.gpu_hours + weight * (b.scores.gpu_hours - a.scores.gpu_hours)


def matched_slo(points: Sequence[Point], metric: str, levels: Sequence[float]) -> dict[str, Any]:
    """Per level: each frontier's GPU-hours, predictive ÷ reactive, and the saving (1 − ratio)."""
    fronts = {p: pareto([x for x in points if x.policy == p], metric) for p in ("reactive", "predictive")}
    out: dict[str, Any] = {}
    for level in levels:
        r = gpu_hours_at(fronts["reactive"], metric, level)
        p = gpu_hours_at(fronts["predictive"], metric, level)
        ratio = p / r if p is not None and r is not None and r > 0 else None
        out[f"{level:g}"] = {"reactive_gpu_hours": r, "predictive_gpu_hours": p, "ratio": ratio,
                             "saving": None if ratio is None else 1.0 - ratio}
    return {"metric": metric, "levels": out}
