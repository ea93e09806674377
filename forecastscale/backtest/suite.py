"""Plan and run a backtest: which (config, target, trace) to replay, with which policies."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from forecastscale.backtest.runner import (
    POLICIES,
    RunResult,
    Scenario,
    build_scenario,
    make_policy,
    run_policy,
    with_slo,
)
from forecastscale.backtest.window import ScoreWindow, build_window_scenario
from forecastscale.config import Config, Target
from forecastscale.errors import ConfigError
from forecastscale.forecasters import MODELS
from forecastscale.policy.tape import make_tape
from forecastscale.sources.csvtrace import load_trace


@dataclass(frozen=True)
class Job:
    """One trace replayed for one target of one config."""

    config_path: Path
    config: Config
    target: Target
    trace_path: Path


SloMode = Literal["matched", "config", "off"]
SLO_MODES: tuple[SloMode, ...] = ("matched", "config", "off")
# The SLO must be > 0; a baseline that never missed is matched at this (% or seconds).
SLO_FLOOR = 0.01


@dataclass(frozen=True)
class SloMatch:
    """How the predictive runs were held to an SLO: the metric, the level they aimed at (``target``), and where
    it came from (``matched``: what reactive reached at its defaults; ``config``: the config's ``slo.target``)."""

    metric: str
    target: float
    mode: SloMode


@dataclass(frozen=True)
class TraceResult:
    """Every policy's run on one job; ``runs`` is keyed by policy name, in the order run; ``slo`` says how the
    predictive runs held an SLO (None: they ran on the knobs)."""

    job: Job
    scenario: Scenario
    runs: dict[str, RunResult]
    slo: SloMatch | None = None


def parse_policies(text: str) -> list[str]:
    """``"reactive,oracle"`` → names, checked against the known policies."""
    names = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in names if p not in POLICIES]
    if bad or not names:
        raise ConfigError("--policy", [f"unknown policy {', '.join(map(repr, bad)) or '(none)'}; "
                                        f"have {', '.join(POLICIES)}"])
    return names


def default_policies(jobs: Sequence[Job]) -> list[str]:
    """reactive, predictive, oracle; with ``forecast_only`` too when some target has event schedules
    (without them it is the very same policy as ``predictive``)."""
    if any(job.target.events.cron for job in jobs):
        return ["reactive", "forecast_only", "predictive", "oracle"]
    return ["reactive", "predictive", "oracle"]


def plan_jobs(configs: Sequence[tuple[Path, Config]], traces: Sequence[Path], target: str | None) -> list[Job]:
    """With ``traces``: each one for the selected target (``target`` or the first of the first
    config). Without: every target of every config that names a ``trace``."""
    if traces:
        path, config = configs[0]
        chosen = select_target(path, config, target)
        return [Job(path, config, chosen, tr) for tr in traces]
    if target is not None:
        for path, config in configs:
            select_target(path, config, target)
    jobs = [
        Job(path, config, t, t.backtest.trace)
        for path, config in configs
        for t in config.targets
        if t.backtest.trace is not None and (target is None or t.name == target)
    ]
    if not jobs:
        raise ConfigError(", ".join(str(p) for p, _ in configs), [
            "no target with a trace" + (f" named {target!r}" if target else "")
            + ": give targets[].trace in the config or --trace CSV"
        ])
    return jobs


def with_model(config: Config, model: str | None) -> Config:
    """``config`` with every target's ``forecast.model`` set to ``model`` (None: unchanged)."""
    if model is None:
        return config
    if model not in (*MODELS, "auto"):
        raise ConfigError("--model", [f"must be one of {', '.join((*MODELS, 'auto'))}, got {model!r}"])
    targets = [t.model_copy(update={"forecast": t.forecast.model_copy(update={"model": model})})
               for t in config.targets]
    return config.model_copy(update={"targets": targets})


def select_target(path: Path, config: Config, name: str | None) -> Target:
    """Target ``name`` of ``config`` (read from ``path``), or its first target when ``name`` is None."""
    if name is None:
        return config.targets[0]
    for t in config.targets:
        if t.name == name:
            return t
    raise ConfigError(str(path), [f"--target: no target named {name!r}; have {[t.name for t in config.targets]}"])


def scenario_for(job: Job, window: ScoreWindow | None = None) -> Scenario:
    """Load the job's trace and resample it for its config (cut to ``window`` and its lead-in, if given)."""
    trace = load_trace(job.trace_path)
    if window is not None:
        return build_window_scenario(job.config, job.target, trace, window)
    return build_scenario(job.config, job.target, trace)


def run_job(job: Job, scenario: Scenario, policies: Sequence[str],
            on_progress: Callable[[int], None] | None = None, quantiles: tuple[float, ...] = (),
            slo: SloMode = "off") -> TraceResult:
    """Replay ``scenario`` (see :func:`scenario_for`) under each policy, in the order given.

    With ``slo`` ``matched`` and a target stating an SLO, reactive runs first; the predictive policies then
    hold the SLO metric at the level reactive reached (the fair comparison, in one run); ``config`` holds
    the config's own ``slo.target``; ``off`` replays the knobs. ``predictive`` and ``forecast_only`` share
    one forecast tape when both run: same fits, one cost. ``quantiles`` (e.g. ``(0.5,)``) are forecast too,
    besides the target's own, and kept in each predictive run's ``forecasts``; they do not change decisions."""
    knobs = with_slo(scenario, None)
    order = sorted(policies, key=lambda p: p != "reactive") if slo == "matched" else list(policies)
    forecasting = {"predictive", "forecast_only"} & set(policies)
    runs: dict[str, RunResult] = {}
    match: SloMatch | None = None
    held: Scenario | None = None
    tape = None
    for name in order:
        if name in forecasting and held is None:  # after reactive: a matched SLO needs its run
            match = _slo_match(scenario, slo, runs.get("reactive"))
            held = knobs if match is None else _held(scenario, match)
            if len(forecasting) == 2 or quantiles:
                tape = make_tape(held.target, held.pool, held.trace.step_s, held.step_s, quantiles)
        sc = held if name in forecasting and held is not None else knobs
        runs[name] = run_policy(sc, make_policy(name, sc, tape), on_progress)
    return TraceResult(job, scenario, {name: runs[name] for name in policies}, match)


def _slo_match(sc: Scenario, mode: SloMode, reactive: RunResult | None) -> SloMatch | None:
    """The SLO the predictive runs hold (None: the knobs): off, no SLO stated, or matched without a reactive run
    to match fall back to the config's (or none)."""
    slo = sc.target.slo
    if mode == "off" or slo is None:
        return None
    if mode == "matched" and reactive is not None:
        reached = float(getattr(reactive.scores, slo.metric))
        return SloMatch(slo.metric, max(reached, SLO_FLOOR), "matched")
    return SloMatch(slo.metric, slo.target, "config")


def _held(sc: Scenario, match: SloMatch) -> Scenario:
    assert sc.target.slo is not None
    return with_slo(sc, sc.target.slo.model_copy(update={"target": match.target}))
