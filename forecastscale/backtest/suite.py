"""Plan and run a backtest: which (config, target, trace) to replay, with which policies."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from forecastscale.backtest.runner import POLICIES, RunResult, Scenario, build_scenario, make_policy, run_policy
from forecastscale.backtest.window import ScoreWindow, build_window_scenario
from forecastscale.config import Config, Target
from forecastscale.errors import ConfigError
from forecastscale.forecasters import MODELS
from forecastscale.policy.predictive import make_tape
from forecastscale.sources.csvtrace import load_trace


@dataclass(frozen=True)
class Job:
    """One trace replayed for one target of one config."""

    config_path: Path
    config: Config
    target: Target
    trace_path: Path


@dataclass(frozen=True)
class TraceResult:
    """Every policy's run on one job; ``runs`` is keyed by policy name, in the order run."""

    job: Job
    scenario: Scenario
    runs: dict[str, RunResult]


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
            on_progress: Callable[[int], None] | None = None, quantiles: tuple[float, ...] = ()) -> TraceResult:
    """Replay ``scenario`` (see :func:`scenario_for`) under each policy, in the order given.

    ``predictive`` and ``forecast_only`` share one forecast tape when both run: same fits, one cost.
    ``quantiles`` (e.g. ``(0.5,)``) are forecast too, besides the target's own, and kept in each
    predictive run's ``forecasts``; they do not change the policies' decisions."""
    sc = scenario
    forecasting = {"predictive", "forecast_only"} & set(policies)
    shared = len(forecasting) == 2 or (bool(forecasting) and bool(quantiles))
    tape = make_tape(sc.target, sc.pool, sc.trace.step_s, sc.step_s, quantiles) if shared else None
    runs = {name: run_policy(sc, make_policy(name, sc, tape), on_progress) for name in policies}
    return TraceResult(job, scenario, runs)
