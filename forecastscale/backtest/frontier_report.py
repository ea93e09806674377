"""Sweep output: frontier and matched-SLO tables, the JSON additions, the frontier plot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from forecastscale.backtest import explain
from forecastscale.backtest.sweep import Point, matched_slo, pareto
from forecastscale.backtest.tune import Slo, TuneResult

POLICY_COLOURS = {"reactive": "tab:red", "predictive": "tab:blue", "oracle": "tab:green"}


@dataclass(frozen=True)
class SweepResult:
    """One trace's sweep: every point, the oracle's GPU-hours, the metric and levels read."""

    trace: str
    points: list[Point]
    oracle_gpu_hours: float
    metric: str
    levels: tuple[float, ...]

    def frontier(self, policy: str) -> list[Point]:
        """``policy``'s non-dominated points on this sweep's metric."""
        return pareto([p for p in self.points if p.policy == policy], self.metric)

    def matched(self) -> dict[str, Any]:
        """GPU-hours of each frontier at each level, and the saving."""
        return matched_slo(self.points, self.metric, self.levels)


def _point_json(p: Point) -> dict[str, Any]:
    s = p.scores
    return {"params": p.params, "gpu_hours": s.gpu_hours, "underprovisioned_pct": s.underprovisioned_pct,
            "unserved_pct": s.unserved_pct, "p99_wait_s": s.p99_wait_s, "queued_pct": s.queued_pct}


def sweep_json(result: SweepResult) -> dict[str, Any]:
    """The keys a sweep adds beside ``policies`` in a trace's JSON entry."""
    policies = sorted({p.policy for p in result.points}, key=("reactive", "predictive").index)
    return {
        "frontier": {pol: [_point_json(p) for p in result.frontier(pol)] for pol in policies},
        "points": {pol: [_point_json(p) for p in result.points if p.policy == pol] for pol in policies},
        "matched_slo": result.matched(),
        "oracle": {"gpu_hours": result.oracle_gpu_hours},
    }


def _num(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "not reached"
    return f"{v:+.1%}" if pct else f"{v:,.1f}"


def _level_header(metric: str) -> str:
    return f"≤ level, {explain.metric_words(metric)[1]}"


# Short: five columns in an 80-column terminal. saving = 1 − predictive ÷ reactive GPU-hours (the cells say %).
MATCHED_COLUMNS = ("reactive GPU-h ↓", "predictive GPU-h ↓", "saving ↑", "oracle GPU-h (floor)")


def matched_table(result: SweepResult) -> Table:
    """GPU-hours at each SLO level: reactive, predictive, saving, oracle floor; :func:`matched_verdict` under it."""
    m = result.matched()
    table = Table(title=f"{result.trace}: GPU-hours at matched {result.metric}", title_justify="left",
                  caption=explain.LEGEND, caption_justify="left")
    for col in (_level_header(result.metric), *MATCHED_COLUMNS):
        table.add_column(col, justify="right")
    for level, row in m["levels"].items():
        table.add_row(level, _num(row["reactive_gpu_hours"]), _num(row["predictive_gpu_hours"]),
                      _num(row["saving"], pct=True), _num(result.oracle_gpu_hours))
    return table


def matched_verdict(result: SweepResult) -> str:
    """The line under :func:`matched_table`: the saving at the levels both frontiers reach, the levels only one
    reaches, and the oracle's floor."""
    levels = {lv: (row["reactive_gpu_hours"], row["predictive_gpu_hours"])
              for lv, row in result.matched()["levels"].items()}
    return (f"{explain.matched(result.metric, levels)}; oracle (perfect foresight) needs "
            f"{result.oracle_gpu_hours:,.1f} GPU-h, the lower bound")


def frontier_table(result: SweepResult) -> Table:
    """Each policy's frontier points with their knobs; :func:`frontier_verdict` under it."""
    words, unit = explain.metric_words(result.metric)
    table = Table(title=f"{result.trace}: Pareto frontiers ({result.metric})", title_justify="left",
                  caption=explain.LEGEND, caption_justify="left")
    for col in ("policy", "target utilisation, 0–1", "forecast quantile", "GPU-h ↓", f"{words}, {unit} ↓"):
        table.add_column(col, justify="right")
    for pol in ("reactive", "predictive"):
        for p in result.frontier(pol):
            q = p.params.get("quantile")
            table.add_row(pol, f"{p.params['target_utilisation']:g}", "–" if q is None else f"{q:g}",
                          f"{p.scores.gpu_hours:,.1f}", f"{p.metric(result.metric):.3f}")
    return table


def frontier_verdict(result: SweepResult) -> str:
    """The line under :func:`frontier_table`: how many settings of one policy the other beats on both axes."""
    fronts = [[(p.metric(result.metric), p.scores.gpu_hours) for p in result.frontier(pol)]
              for pol in ("predictive", "reactive")]
    return explain.frontier(result.metric, *fronts)


def matched_markdown(results: Sequence[SweepResult]) -> str:
    """One Markdown table: per trace and level, both frontiers' GPU-hours and the saving; the verdict under it."""
    lines = ["| trace | SLO level | " + " | ".join(MATCHED_COLUMNS) + " |", "|---|---|---|---|---|---|"]
    for r in results:
        unit = explain.metric_words(r.metric)[1]
        for level, row in r.matched()["levels"].items():
            lines.append(f"| {r.trace} | {r.metric} ≤ {level} {unit} | {_num(row['reactive_gpu_hours'])} | "
                         f"{_num(row['predictive_gpu_hours'])} | {_num(row['saving'], pct=True)} | "
                         f"{_num(r.oracle_gpu_hours)} |")
    verdicts = " · ".join(f"{r.trace}: {matched_verdict(r)}" for r in results)
    return "\n".join(lines) + f"\n\n**Verdict** ({explain.LEGEND}): {verdicts}\n"


def plot_frontiers(results: Sequence[SweepResult], path: Path) -> None:
    """GPU-hours against the SLO metric: all points faint, frontiers as lines, oracle dashed."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers or in CI
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4.2), squeeze=False)
    for ax, r in zip(axes[0], results, strict=True):
        for pol in ("reactive", "predictive"):
            pts = [p for p in r.points if p.policy == pol]
            if not pts:
                continue
            colour = POLICY_COLOURS[pol]
            ax.scatter([p.metric(r.metric) for p in pts], [p.scores.gpu_hours for p in pts],
                       s=10, color=colour, alpha=0.3)
            front = r.frontier(pol)
            ax.plot([p.metric(r.metric) for p in front], [p.scores.gpu_hours for p in front],
                    "-o", ms=3, color=colour, label=f"{pol} frontier")
        ax.axhline(r.oracle_gpu_hours, color=POLICY_COLOURS["oracle"], ls="--", label="oracle (0 % under)")
        ax.set_xscale("symlog", linthresh=0.1)  # linear near 0 (0 % is a real point), log beyond
        ax.set_xlim(left=0)
        words, unit = explain.metric_words(r.metric)
        ax.set_xlabel(f"{words}, {unit} (lower is better)")
        ax.set_ylabel("GPU-hours (lower is better)")
        ax.set_title(r.trace, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    explain.save_figure(fig, path)


TUNE_SCORES = ("gpu_hours", "underprovisioned_pct", "unserved_pct", "queued_pct", "p99_wait_s")


def tune_table(result: TuneResult, slo: Slo) -> Table:
    """The chosen knobs, scored on the tuning part and on the later report part; :func:`tune_verdict` under it."""
    knobs = ", ".join(f"{k}={v:g}" for k, v in result.params.items())
    table = Table(title=f"tune {result.policy}: cheapest setting with {slo}: {knobs}", title_justify="left",
                  caption=explain.LEGEND, caption_justify="left")
    table.add_column("score, unit")
    for col in ("tuning part (earlier)", "report part (later)"):
        table.add_column(col, justify="right")
    for name in TUNE_SCORES:
        a, b = getattr(result.tune_scores, name), getattr(result.report_scores, name)
        table.add_row(explain.label(name), f"{a:,.3f}", f"{b:,.3f}")
    met = ["yes" if slo.met(s) else "NO" for s in (result.tune_scores, result.report_scores)]
    table.add_row(f"meets {slo}", *met)
    return table


def tune_verdict(result: TuneResult, slo: Slo) -> str:
    """The line under :func:`tune_table`: whether the setting chosen on the past holds on the later part."""
    knobs = ", ".join(f"{k}={v:g}" for k, v in result.params.items())
    a, b = (float(getattr(s, slo.metric)) for s in (result.tune_scores, result.report_scores))
    head = f"{result.policy} at {knobs} is the cheapest setting meeting {slo} on the tuning part ({explain.num(a)})"
    if slo.met(result.report_scores):
        return (f"{head}, and it holds on the later report part ({explain.num(b)}) with "
                f"{result.report_scores.gpu_hours:,.1f} GPU-h there")
    return (f"{head}, but NOT on the later report part ({explain.num(b)} > {slo.limit:g}): it fits the past "
            f"only; tune on more history or aim lower")


def tune_json(result: TuneResult, slo: Slo) -> dict[str, Any]:
    """``tune --report``'s results.json: the SLO, the chosen knobs, both parts' scores and every point swept."""
    return {"policy": result.policy, "slo": str(slo), "params": result.params,
            "tune_scores": result.tune_scores.as_dict(), "report_scores": result.report_scores.as_dict(),
            "met": {"tuning_part": slo.met(result.tune_scores), "report_part": slo.met(result.report_scores)},
            "points": [_point_json(p) for p in result.points], "verdict": tune_verdict(result, slo)}


def plot_tune(result: TuneResult, slo: Slo, path: Path) -> None:
    """The tuning sweep: GPU-hours against the SLO metric (tuning part), the SLO limit, the chosen point."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers or in CI
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    colour = POLICY_COLOURS.get(result.policy, "tab:blue")
    ax.scatter([p.metric(slo.metric) for p in result.points], [p.scores.gpu_hours for p in result.points],
               s=14, color=colour, alpha=0.5, label=f"{result.policy} settings (tuning part)")
    ax.axvline(slo.limit, color="black", ls="--", lw=0.8, label=f"SLO {slo}")
    ax.scatter([getattr(result.tune_scores, slo.metric)], [result.tune_scores.gpu_hours], s=90, marker="*",
               color="black", zorder=5, label="chosen: cheapest meeting the SLO")
    ax.set_xscale("symlog", linthresh=0.1)  # linear near 0 (0 % is a real point), log beyond
    words, unit = explain.metric_words(slo.metric)
    ax.set_xlabel(f"{words}, {unit} (lower is better)")
    ax.set_ylabel("GPU-hours (lower is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    explain.save_figure(fig, path)
