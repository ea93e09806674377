"""Backtest output: the side-by-side table (rich, Markdown), the JSON report and the plot."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from forecastscale.backtest.scores import SCORE_NAMES
from forecastscale.backtest.suite import TraceResult
from forecastscale.types import underprovisioned

RATIO = "gpu_hours_vs_oracle"
UNDER_MIN = "underprovisioned_min"  # windowed runs only: minutes read better than % of a few hours
_COLUMNS = (*SCORE_NAMES, RATIO)


def columns(result: TraceResult) -> tuple[str, ...]:
    """The score names shown for ``result``: with a score window, under-provisioned minutes too."""
    return (*_COLUMNS, UNDER_MIN) if result.scenario.window is not None else _COLUMNS


def policy_scores(result: TraceResult) -> dict[str, dict[str, float | int | None]]:
    """Scores per policy, plus ``gpu_hours_vs_oracle`` when oracle ran (else ``None``) and, with a
    score window, ``underprovisioned_min`` (under-provisioned steps × step, in minutes)."""
    oracle = result.runs.get("oracle")
    sc = result.scenario
    minutes = (sc.scored_end - sc.warmup_steps) * sc.step_s / 60.0
    out: dict[str, dict[str, float | int | None]] = {}
    for name, run in result.runs.items():
        scores: dict[str, float | int | None] = dict(run.scores.as_dict())
        base = oracle.scores.gpu_hours if oracle is not None else 0.0
        scores[RATIO] = run.scores.gpu_hours / base if base > 0 else None
        if sc.window is not None:
            scores[UNDER_MIN] = run.scores.underprovisioned_pct / 100.0 * minutes
        out[name] = scores
    return out


def _window(result: TraceResult) -> dict[str, Any]:
    w = result.scenario.window
    return {} if w is None else {"window": {"start": w[0].isoformat(), "end": w[1].isoformat()}}


def to_json(results: list[TraceResult], extras: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The report: ``{"traces": [{"trace", "target", "config", ..., "policies": {...}}]}``.

    ``extras[i]`` (e.g. a sweep's frontier) is merged into trace ``i``'s entry.
    """
    traces = []
    for k, r in enumerate(results):
        sc = r.scenario
        traces.append({
            "trace": str(r.job.trace_path),
            "target": r.job.target.name,
            "config": str(r.job.config_path),
            "decision_interval_s": sc.step_s,
            "scored_steps": sc.scored_end - sc.warmup_steps,
            "warmup_steps": sc.warmup_steps,
            **_window(r),
            "trace_report": vars(sc.trace.report),
            "policies": policy_scores(r),
            "decision_reasons": {p: run.reasons for p, run in r.runs.items()},
            **(extras[k] if extras else {}),
        })
    return {"traces": traces}


def write_json(results: list[TraceResult], path: Path, extras: list[dict[str, Any]] | None = None) -> None:
    """Write :func:`to_json` to ``path`` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(results, extras), indent=2) + "\n", encoding="utf-8")


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"


def rich_table(result: TraceResult) -> Table:
    """One trace's policies side by side: a column per policy, a row per score."""
    title = f"{result.job.trace_path.name} → {result.job.target.name}"
    if result.scenario.window is not None:
        start, end = result.scenario.window
        title += f" (scored {start.isoformat()} → {end.isoformat()})"
    table = Table(title=title, title_justify="left")
    scores = policy_scores(result)
    table.add_column("score")
    for name in scores:
        table.add_column(name, justify="right")
    for c in columns(result):
        table.add_row(c, *(_fmt(s[c]) for s in scores.values()))
    return table


def markdown(results: list[TraceResult]) -> str:
    """All traces as one Markdown table (for the README)."""
    cols = columns(results[0]) if results else _COLUMNS  # one --window applies to every trace
    head = "| trace | policy | " + " | ".join(cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 2)]
    for r in results:
        for name, scores in policy_scores(r).items():
            cells = " | ".join(_fmt(scores.get(c)) for c in cols)
            lines.append(f"| {r.job.trace_path.name} | {name} | {cells} |")
    return "\n".join(lines) + "\n"


def plot(results: list[TraceResult], path: Path, hours: float = 48.0) -> None:
    """Demand, ready capacity per policy and under-provisioned spans; one panel per trace.

    Shows the last ``hours`` of each trace (0 = the whole scored span).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers or in CI
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 1, figsize=(12, 3.6 * len(results)), squeeze=False)
    for ax, r in zip(axes[:, 0], results, strict=True):
        _panel(ax, r, hours)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _panel(ax: Any, r: TraceResult, hours: float) -> None:
    sc = r.scenario
    n = sc.scored_end
    first = sc.warmup_steps if hours <= 0 else max(sc.warmup_steps, n - int(hours * 3600 / sc.step_s))
    start = sc.trace.start
    times = np.array([start + timedelta(seconds=i * sc.step_s) for i in range(first, n)])
    demand = sc.demand[first:n]
    ax.plot(times, demand, color="black", lw=0.8, label="demand", zorder=5)
    colours = {"reactive": "tab:red", "forecast_only": "tab:orange", "predictive": "tab:blue", "oracle": "tab:green"}
    top = float(demand.max()) or 1.0
    for k, (name, run) in enumerate(r.runs.items()):
        colour = colours.get(name, f"C{k}")
        cap = run.capacity[first:n]
        ax.step(times, cap, where="post", color=colour, lw=0.9, alpha=0.8, label=f"{name} ready capacity")
        under = underprovisioned(demand, cap)
        band = (-0.04 * (k + 1) * top, -0.04 * k * top)
        ax.fill_between(times, *band, where=under, color=colour, step="post", alpha=0.9, lw=0)
    highest = max([top, *(float(run.capacity[first:n].max()) for run in r.runs.values())])
    ax.set_ylim(-0.04 * (len(r.runs) + 0.5) * top, 1.15 * highest)  # room for the legend
    ax.set_title(f"{r.job.trace_path.name} → {r.job.target.name} (bars below 0: under-provisioned steps)")
    ax.set_ylabel(r.job.target.workload.demand_unit)
    ax.legend(loc="upper left", fontsize=8, ncol=4)
