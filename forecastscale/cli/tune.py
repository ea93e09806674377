"""``forecastscale tune``: the cheapest knob setting that meets an SLO on a cluster's own history
(a CSV or a Prometheus, :mod:`forecastscale.sources.history`)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from forecastscale.cli import reporting
from forecastscale.cli.app import err, fail, progress_bar, prometheus_url
from forecastscale.cli.backtest import SLO_METRICS
from forecastscale.errors import ForecastscaleError


def _write_tuned(config_path: Path, target: str, policy: str, params: dict[str, float], out: Path) -> None:
    import yaml

    from forecastscale.backtest.tune import tuned_config

    raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    tuned = tuned_config(raw, target, params, policy)
    for t in tuned.get("targets", []):  # keep trace paths valid from the new file's folder
        if (section := t.get("backtest")) and section.get("trace"):
            section["trace"] = os.path.relpath((config_path.parent / section["trace"]).resolve(),
                                               out.resolve().parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"# tuned by forecastscale tune from {config_path}\n" + yaml.safe_dump(tuned, sort_keys=False),
                   encoding="utf-8")


def tune_command(
    config: Annotated[Path, typer.Option(metavar="PATH", help="YAML config whose target is tuned.")],
    slo: Annotated[str, typer.Option(
        metavar="METRIC<=NUMBER", help=f"The SLO to meet, e.g. underprovisioned_pct<=1; METRIC one of "
        f"{', '.join(SLO_METRICS)}.")],
    trace: Annotated[Path | None, typer.Option(metavar="PATH", help="History as a 'timestamp,value' CSV.")] = None,
    prometheus: Annotated[str | None, typer.Option(
        metavar="URL", callback=prometheus_url,
        help="History from this Prometheus URL, with the target's queries.demand.")] = None,
    since: Annotated[str, typer.Option(metavar="DURATION", help="With --prometheus: how far back (e.g. 14d, 36h).")]
        = "14d",
    target: Annotated[str | None, typer.Option(metavar="NAME", help="Target to tune (default: the first).")] = None,
    policy: Annotated[str, typer.Option(metavar="POLICY", help="Policy whose knobs are tuned: reactive or "
                                                               "predictive.")] = "predictive",
    split_fraction: Annotated[float, typer.Option(
        "--split", metavar="FRACTION", help="Share of the scored span tuned on (0–1); the rest is the report part.")]
        = 0.7,
    out: Annotated[Path | None, typer.Option(metavar="PATH", help="Write the tuned config here (YAML).")] = None,
    report_dir: Annotated[Path | None, typer.Option(
        "--report", metavar="DIR", help="Write results.json (every setting tried), tune.png and index.html (one "
        "page with the table, its verdict and the plot, that opens from disk) into this directory.")] = None,
    workers: Annotated[int | None, typer.Option("--jobs", metavar="N", help="Processes (default: one per core).")]
        = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", help="No progress (bar or log lines) on stderr; the result still prints.")] = False,
) -> None:
    """Find the cheapest knob setting that meets an SLO on earlier history; check it on later history.

    Exit 0 with a setting, 1 when none meets the SLO on the tuning part, 2 on bad input.
    """
    from forecastscale.backtest import frontier_report
    from forecastscale.backtest.runner import build_scenario
    from forecastscale.backtest.suite import select_target
    from forecastscale.backtest.sweep import grid
    from forecastscale.backtest.tune import NoSettingMeetsSlo, parse_slo, tune
    from forecastscale.config import load_config
    from forecastscale.sources.history import load_history

    try:
        goal = parse_slo(slo)
        cfg = load_config(config)
        chosen = select_target(config, cfg, target)
        scenario = build_scenario(cfg, chosen, load_history(
            cfg, chosen, trace=trace, prometheus=prometheus, since=since,
            now_s=datetime.now(tz=UTC).timestamp(), context="tune"))
        with progress_bar(quiet) as progress:
            task = progress.add_task(f"tuning {policy}", total=len(grid(policy)), unit="points")
            result = tune(scenario, policy, goal, split_fraction, workers, lambda _: progress.advance(task))
    except NoSettingMeetsSlo as exc:
        err.print(f"[red]no setting:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    except (ForecastscaleError, ValueError) as exc:
        raise fail(exc if isinstance(exc, ForecastscaleError) else ForecastscaleError(str(exc))) from exc
    reporting.show(Console(), frontier_report.tune_table(result, goal), frontier_report.tune_verdict(result, goal))
    if report_dir is not None:
        history = f"history: {trace}" if trace else f"history: {prometheus}, the last {since}"
        reporting.write_tune_report(report_dir, result, goal, [f"config: {config}, target {chosen.name}; {history}"])
    if out is not None:
        _write_tuned(config, chosen.name, result.policy, result.params, out)
        err.print(f"wrote {out}", highlight=False)
        if chosen.slo is not None and result.policy != "reactive":  # the knobs would be silently ignored
            err.print(f"note: {chosen.name} states an slo, so backtest and run calibrate its margin for it; the tuned "
                      "knobs apply with backtest --slo off, or once the slo section is removed", highlight=False,
                      soft_wrap=True)
