"""Backtest output: the side-by-side table (rich, Markdown), the JSON report and the plot."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from forecastscale.backtest import explain
from forecastscale.backtest.runner import RunResult
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
            **({"slo": row} if (row := slo_row(r)) is not None else {}),
            **({"fallback": note} if (note := fallback_note(r)) else {}),
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


def slo_row(result: TraceResult) -> dict[str, Any] | None:
    """With an SLO held: the metric, the aim, what predictive realised, and GPU-hours of reactive, predictive
    and oracle with predictive's saving against reactive (None when the predictive runs used the knobs)."""
    m, runs = result.slo, result.runs
    if m is None or "predictive" not in runs:
        return None
    pred = runs["predictive"].scores
    row: dict[str, Any] = {"metric": m.metric, "aim": m.target, "mode": m.mode,
                           "realised": float(getattr(pred, m.metric)), "predictive_gpu_hours": pred.gpu_hours}
    for name in ("reactive", "oracle"):
        row[f"{name}_gpu_hours"] = runs[name].scores.gpu_hours if name in runs else None
    reactive = row["reactive_gpu_hours"]
    row["saving_pct"] = 100.0 * (1 - pred.gpu_hours / reactive) if reactive else None
    row["vs_oracle"] = pred.gpu_hours / row["oracle_gpu_hours"] if row["oracle_gpu_hours"] else None
    return row


FORECASTING = ("predictive", "forecast_only")
ALL_UNFIT = 0.99  # no forecast on this share of scored steps: the policy ran as reactive, no forecasting verdict
TOLERANCE = 0.2  # a held SLO may land this far (relative) above its aim and still count as held


def unfit_share(result: TraceResult, policy: str) -> float | None:
    """Share (0–1) of scored steps on which ``policy`` had no forecast, so it scaled as reactive there; None when
    it did not run or keeps no forecast (not a predictive policy)."""
    run = result.runs.get(policy)
    if run is None or not run.forecasts:
        return None
    sc = result.scenario
    path = next(iter(run.forecasts.values()))[sc.warmup_steps:sc.scored_end]  # NaN while unfit
    return float(np.mean(np.isnan(path))) if len(path) else 0.0


def _why_unfit(result: TraceResult) -> str:
    """Why fits failed, from the history's length against the two seasons every seasonal forecaster needs."""
    sc, f = result.scenario, result.scenario.target.forecast
    seasons = f"two forecast seasons (2 × forecast.season_s = {2 * f.season_s / 3600:g} h)"
    total_h, warm_h = len(sc.demand) * sc.step_s / 3600, sc.warmup_steps * sc.step_s / 3600
    if f.window_s < 2 * f.season_s:
        return f"forecast.window_s ({f.window_s / 3600:g} h) is shorter than the {seasons} a fit needs"
    if total_h < 2 * f.season_s / 3600:
        return f"its whole history ({explain.num(total_h)} h) is shorter than the {seasons} a fit needs"
    if warm_h < 2 * f.season_s / 3600:
        return f"scoring began after {explain.num(warm_h)} h of history and a fit needs {seasons}"
    return "its forecaster could not fit (decision_reasons in --json show how often)"


def fallback_note(result: TraceResult) -> str | None:
    """One line naming the target when a forecasting policy had no forecast on some scored steps, and why
    (None when every scored step had one)."""
    gaps = [f"{p} had no forecast on {explain.num(100 * share)} % of scored steps" for p in FORECASTING
            if (share := unfit_share(result, p))]
    if not gaps:
        return None
    return f"{result.job.target.name}: {' and '.join(gaps)} and scaled as reactive there: {_why_unfit(result)}"


def _side(run: RunResult, metric: str) -> explain.Side:
    return explain.Side(run.scores.gpu_hours, float(getattr(run.scores, metric)))


def _aim(result: TraceResult) -> str:
    """With an SLO held: whether predictive held its aim (within :data:`TOLERANCE`); said only when it missed a
    matched aim (else "at the same SLO" says it) or always for the config's own aim."""
    if (row := slo_row(result)) is None:
        return ""
    held = row["realised"] <= row["aim"] * (1 + TOLERANCE)
    if row["mode"] == "matched":
        aim = explain.metric_value(row["metric"], row["aim"])
        return "" if held else f"; it missed its aim, {aim} (reactive's level)"
    return f"; its aim, {explain.metric_value(row['metric'], row['aim'])} (slo.target), {'held' if held else 'MISSED'}"


def _oracle(result: TraceResult, metric: str) -> str:
    run = result.runs.get("oracle")
    return "" if run is None else "; " + explain.oracle_clause(run.scores.gpu_hours, metric, _side(run, metric).slo)


def verdict(result: TraceResult) -> str:
    """The one line under a trace's table: predictive against reactive on GPU-hours and the SLO metric (the
    held SLO's, else under-provisioned minutes), the oracle's floor, and any steps run without a forecast."""
    runs, metric = result.runs, result.slo.metric if result.slo is not None else "underprovisioned_pct"
    if "predictive" not in runs or "reactive" not in runs:
        sides = "; ".join(explain.summary(n, r.scores.gpu_hours, metric, _side(r, metric).slo)
                          for n, r in runs.items() if n != "oracle")
        return f"{sides} (no predictive and reactive pair to compare){_oracle(result, metric)}"
    share = unfit_share(result, "predictive") or 0.0
    if share >= ALL_UNFIT:
        return (f"no forecasting verdict: predictive had no forecast on {explain.num(100 * share)} % of scored "
                f"steps and ran as reactive ({_why_unfit(result)}){_oracle(result, metric)}")
    return _compared(result, metric, share) + _oracle(result, metric)


def _compared(result: TraceResult, metric: str, share: float) -> str:
    """Predictive against reactive, whether it held the config's aim, and a pointer to the sweep when the two
    ended at different SLOs (then GPU-hours alone say little)."""
    ours, theirs = _side(result.runs["predictive"], metric), _side(result.runs["reactive"], metric)
    line = explain.compare(metric, ours, theirs) + _aim(result)
    if explain.slo_side(metric, ours.slo, theirs.slo):
        line += "; --sweep compares them at the same SLO"
    if share:
        line += f"; predictive had no forecast on {explain.num(100 * share)} % of scored steps (ran as reactive)"
    return line


def verdict_line(results: list[TraceResult]) -> str:
    """One line of verdict under a Markdown table of several traces: each trace's :func:`verdict`."""
    return "**Verdict** (" + explain.LEGEND + "): " + " · ".join(
        f"{r.job.trace_path.name}: {verdict(r)}" for r in results) + "\n"


def slo_markdown(results: list[TraceResult]) -> str:
    """The SLO-matched comparison of every trace as one Markdown table (the README's headline), and its verdict."""
    head = ("| trace | SLO metric | aim | predictive realised ↓ | reactive GPU-h ↓ | predictive GPU-h ↓ | "
            "saving, % of reactive's GPU-h ↑ | oracle GPU-h (floor) | predictive ÷ oracle, × ↓ |")
    lines = [head, "|" + "---|" * 9]
    held = [(r, row) for r in results if (row := slo_row(r)) is not None]
    for r, row in held:
        saving = "–" if row["saving_pct"] is None else f"{row['saving_pct']:+.1f} %"
        unit = explain.metric_words(row["metric"])[1]
        lines.append(f"| {r.job.trace_path.name} | {row['metric']} ({unit}) | {row['aim']:.3g} | "
                     f"{row['realised']:.3g} | {_fmt(row['reactive_gpu_hours'])} | "
                     f"{_fmt(row['predictive_gpu_hours'])} | {saving} | {_fmt(row['oracle_gpu_hours'])} | "
                     f"{_fmt(row['vs_oracle'])} |")
    return "\n".join(lines) + "\n\n" + verdict_line([r for r, _ in held])


def _missing_row(result: TraceResult) -> list[str] | None:
    """The note row of a table whose forecasting policies lacked a forecast on some scored steps."""
    shares = {p: unfit_share(result, p) for p in result.runs}
    if not any(shares.values()):
        return None
    return ["no forecast, % of scored steps ↓",
            *("–" if v is None else _fmt(100.0 * v) for v in shares.values())]


def rich_table(result: TraceResult) -> Table:
    """One trace's policies side by side: a column per policy, a row per score (with its unit and which way is
    better), a note row when a forecasting policy ran without a forecast; :func:`verdict` is the line under it."""
    title = f"{result.job.trace_path.name} → {result.job.target.name}"
    if result.scenario.window is not None:
        start, end = result.scenario.window
        title += f" (scored {start.isoformat()} → {end.isoformat()})"
    table = Table(title=title, title_justify="left", caption=explain.LEGEND, caption_justify="left")
    scores = policy_scores(result)
    table.add_column("score, unit")
    for name in scores:
        table.add_column(name, justify="right")
    for c in columns(result):
        table.add_row(explain.label(c), *(_fmt(s[c]) for s in scores.values()))
    if (note := _missing_row(result)) is not None:
        table.add_row(*note)
    return table


def markdown(results: list[TraceResult]) -> str:
    """All traces as one Markdown table (for the README), headers with units and which way is better, and the
    one line of verdict under it."""
    cols = columns(results[0]) if results else _COLUMNS  # one --window applies to every trace
    head = "| trace | policy | " + " | ".join(explain.label(c) for c in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 2)]
    for r in results:
        for name, scores in policy_scores(r).items():
            cells = " | ".join(_fmt(scores.get(c)) for c in cols)
            lines.append(f"| {r.job.trace_path.name} | {name} | {cells} |")
    return "\n".join(lines) + "\n\n" + verdict_line(results)


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
    explain.save_figure(fig, path)


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
