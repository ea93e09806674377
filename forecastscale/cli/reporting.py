"""What ``backtest``, ``replay`` and ``tune`` print and write besides their runs: every table with the one line
of verdict under it, a warning on stderr when predictive ran without a forecast, and a ``--report`` directory
(JSON, Markdown, PNG plots and one self-contained ``index.html``, :mod:`forecastscale.backtest.html_report`).

The backtest layer (numpy, matplotlib, jinja2) loads inside the functions: importing this module stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from forecastscale.cli.app import err

if TYPE_CHECKING:
    from rich.table import Table

    from forecastscale.backtest.frontier_report import SweepResult
    from forecastscale.backtest.shared_report import PoolResult
    from forecastscale.backtest.suite import TraceResult
    from forecastscale.backtest.tune import Slo, TuneResult

SCORED = "Scores exclude each trace's warm-up span; GPU-hours are compared at the SLO each verdict names."


def show(out: Console, table: Table, verdict: str) -> None:
    """``table`` and its verdict: one line however long (the terminal wraps it, rich does not break it)."""
    out.print(table)
    out.print(f"verdict: {escape(verdict)}", highlight=False, soft_wrap=True)


def show_trace(out: Console, result: TraceResult) -> None:
    """A trace's table and verdict; on stderr, one line when a forecasting policy ran as reactive (and why)."""
    from forecastscale.backtest import report

    show(out, report.rich_table(result), report.verdict(result))
    if (note := report.fallback_note(result)) is not None:
        err.print(f"[yellow]warning:[/yellow] {escape(note)}", highlight=False, soft_wrap=True)


def show_sweep(out: Console, swept: SweepResult) -> None:
    """A trace's sweep: the frontier table and the matched-SLO table, each with its verdict."""
    from forecastscale.backtest.html_report import sweep_tables

    for table, verdict in sweep_tables(swept):
        show(out, table, verdict)


def _wrote(path: Path) -> None:
    err.print(escape(f"wrote {path}"), highlight=False, soft_wrap=True)


def write_report(directory: Path, results: list[TraceResult], swept: Sequence[SweepResult] = (),
                 extras: list[dict[str, Any]] | None = None, plot_hours: float = 48.0,
                 title: str = "forecastscale backtest", intro: Sequence[str] = ()) -> None:
    """``--report DIR`` of backtest and replay: results.json, results.md (slo.md with an SLO held),
    backtest.png (with a sweep matched.md and frontier.png too), then index.html with all of it."""
    from forecastscale.backtest import html_report, report

    report.write_json(results, directory / "results.json", extras)
    (directory / "results.md").write_text(report.markdown(results), encoding="utf-8")
    if any(r.slo for r in results):
        (directory / "slo.md").write_text(report.slo_markdown(results), encoding="utf-8")
    report.plot(results, directory / "backtest.png", plot_hours)
    shown = f"the last {plot_hours:g} h" if plot_hours > 0 else "the whole scored span"
    plots = [(directory / "backtest.png", f"demand and each policy's ready capacity, {shown} of each trace "
              "(bars below 0: under-provisioned steps, fewer is better)")]
    plots += _write_sweep(directory, swept)
    _wrote(html_report.write_backtest(directory, title, results, swept, plots, [*intro, SCORED]))


def _write_sweep(directory: Path, swept: Sequence[SweepResult]) -> list[tuple[Path, str]]:
    """With a sweep: matched.md and frontier.png; the plot for the page."""
    from forecastscale.backtest import frontier_report

    if not swept:
        return []
    (directory / "matched.md").write_text(frontier_report.matched_markdown(swept), encoding="utf-8")
    frontier_report.plot_frontiers(swept, directory / "frontier.png")
    return [(directory / "frontier.png", "GPU-hours against the SLO metric for every swept setting: lines are "
             "each policy's Pareto frontier, dashed the oracle (lower-left is better)")]


def write_shared_report(directory: Path, results: Sequence[PoolResult], intro: Sequence[str] = ()) -> None:
    """``backtest --shared-pool --report DIR``: results.json and index.html (tables, verdicts, messages)."""
    from forecastscale.backtest import html_report, shared_report

    shared_report.write_json(results, directory / "results.json")
    _wrote(html_report.write_shared(directory, results, intro))


def write_tune_report(directory: Path, result: TuneResult, slo: Slo, intro: Sequence[str] = ()) -> None:
    """``tune --report DIR``: results.json (every point tried), tune.png and index.html."""
    import json

    from forecastscale.backtest import frontier_report, html_report

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.json").write_text(json.dumps(frontier_report.tune_json(result, slo), indent=2) + "\n",
                                            encoding="utf-8")
    frontier_report.plot_tune(result, slo, directory / "tune.png")
    _wrote(html_report.write_tune(directory, result, slo, directory / "tune.png", intro))
