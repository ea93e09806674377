"""A backtest's per-step series as OpenMetrics text (``backtest``/``replay --openmetrics OUT.om``).

The file is what ``promtool tsdb create-blocks-from openmetrics`` reads: one gauge family per
metric (``# HELP``, ``# TYPE``), every series' samples in time order, timestamps in seconds on
the trace's own clock, ``# EOF`` last. Loaded into Prometheus, a what-if run sits next to the
live series. The scored span is written (after the warm-up; with ``--window``, the window):

* ``forecastscale_replay_demand{run,target}``: demand per decision step, × ``workload.demand_scale``;
* ``forecastscale_replay_forecast{run,target,quantile}``: the predictive policy's forecast in force
  for each step, at its quantile and at 0.5 (steps without a fit are left out);
* ``forecastscale_replay_desired_replicas{run,target,policy}``: the replicas each policy asked for;
* ``forecastscale_replay_ready_capacity{run,target,policy}``: ready replicas × ``capacity_per_replica``;
* ``forecastscale_replay_underprovisioned{run,target,policy}``: 1 when demand > ready capacity, else 0.

These names and labels are what the what-if Grafana dashboard queries: keep them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from forecastscale.backtest.suite import Job, TraceResult
from forecastscale.errors import ConfigError
from forecastscale.types import FloatArray, underprovisioned

DEMAND = "forecastscale_replay_demand"
FORECAST = "forecastscale_replay_forecast"
DESIRED = "forecastscale_replay_desired_replicas"
READY = "forecastscale_replay_ready_capacity"
UNDER = "forecastscale_replay_underprovisioned"
HELP = {
    DEMAND: "Replayed demand per decision step, in the target's demand unit.",
    FORECAST: "The predictive policy's forecast demand for the step, by quantile.",
    DESIRED: "Replicas the policy asked for at the step.",
    READY: "Ready replicas times capacity_per_replica at the step, in the target's demand unit.",
    UNDER: "1 when demand exceeded ready capacity at the step, else 0.",
}
MEDIAN = 0.5
_SAFE_RUN = re.compile(r"[^A-Za-z0-9_.:-]+")


@dataclass(frozen=True)
class Series:
    """One series: ``values[k]`` at ``times[k]`` (epoch seconds); NaN values are left out."""

    labels: dict[str, str]
    times: FloatArray
    values: FloatArray


def run_name(config: Path, now_s: float) -> str:
    """The default ``--run``: the config file's stem and the UTC time, e.g. ``elb-20261129T0757Z``."""
    stamp = datetime.fromtimestamp(now_s, tz=UTC).strftime("%Y%m%dT%H%MZ")
    return f"{_SAFE_RUN.sub('_', config.stem)}-{stamp}"


def check_targets(jobs: Sequence[Job]) -> None:
    """ConfigError unless each target is replayed once (its series would collide in one file)."""
    names = [job.target.name for job in jobs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError("--openmetrics", [f"target {', '.join(map(repr, twice))} is replayed more than once; "
                                            "the series are labelled by run and target: replay one trace per target"])


def forecast_run(result: TraceResult) -> tuple[str, float] | None:
    """``(policy, quantile)`` whose forecasts are written: predictive's, else forecast_only's."""
    for name in ("predictive", "forecast_only"):
        run = result.runs.get(name)
        if run is not None and run.forecasts:
            return name, result.job.target.forecast.quantile
    return None


def _quantile_label(q: float) -> str:
    return f"{q:g}"


def families(results: Iterable[TraceResult], run: str) -> dict[str, list[Series]]:
    """Every metric's series for ``results``, over each one's scored span."""
    out: dict[str, list[Series]] = {name: [] for name in HELP}
    for r in results:
        sc = r.scenario
        lo, hi = sc.warmup_steps, sc.scored_end
        times: FloatArray = sc.trace.start.timestamp() + np.arange(lo, hi, dtype=np.float64) * sc.step_s
        base = {"run": run, "target": r.job.target.name}
        demand = sc.demand[lo:hi]
        out[DEMAND].append(Series(base, times, demand))
        chosen = forecast_run(r)
        if chosen is not None:
            name, own = chosen
            paths = r.runs[name].forecasts
            for q in sorted({own, MEDIAN} & set(paths)):
                out[FORECAST].append(Series({**base, "quantile": _quantile_label(q)}, times, paths[q][lo:hi]))
        for policy, result in r.runs.items():
            labels = {**base, "policy": policy}
            capacity = result.capacity[lo:hi]
            out[DESIRED].append(Series(labels, times, result.replicas[lo:hi]))
            out[READY].append(Series(labels, times, capacity))
            out[UNDER].append(Series(labels, times, underprovisioned(demand, capacity).astype(np.float64)))
    return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 2**53 else repr(float(x))


def render(results: Iterable[TraceResult], run: str) -> Iterable[str]:
    """The OpenMetrics text, line by line (each ending in a newline)."""
    for metric, series in families(results, run).items():
        if not series:
            continue
        yield f"# HELP {metric} {HELP[metric]}\n# TYPE {metric} gauge\n"
        for s in series:
            head = metric + "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(s.labels.items())) + "} "
            for t, v in zip(s.times, s.values, strict=True):
                if not math.isnan(v):
                    yield f"{head}{_number(v)} {_number(t)}\n"
    yield "# EOF\n"


def write(results: Sequence[TraceResult], path: Path, run: str) -> int:
    """Write :func:`render` to ``path`` (parents created); returns the number of samples."""
    check_targets([r.job for r in results])
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = 0
    with path.open("w", encoding="utf-8") as out:
        for line in render(results, run):
            out.write(line)
            samples += not line.startswith("#")
    return samples
