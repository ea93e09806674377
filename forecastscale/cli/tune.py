"""``forecastscale tune``: the cheapest knob setting that meets an SLO on a cluster's own history
(a CSV or a Prometheus, :mod:`forecastscale.sources.history`)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.markup import escape

from forecastscale.backtest import frontier_report
from forecastscale.backtest.runner import build_scenario
from forecastscale.backtest.suite import select_target
from forecastscale.backtest.sweep import SLO_METRICS, grid
from forecastscale.backtest.tune import NoSettingMeetsSlo, parse_slo, tune, tuned_config
from forecastscale.cli.app import err, fail, progress_bar
from forecastscale.config import load_config
from forecastscale.errors import ForecastscaleError
from forecastscale.sources.history import load_history


def _write_tuned(config_path: Path, target: str, params: dict[str, float], out: Path) -> None:
    raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    tuned = tuned_config(raw, target, params)
    for t in tuned.get("targets", []):  # keep trace paths valid from the new file's folder
        if (section := t.get("backtest")) and section.get("trace"):
            section["trace"] = os.path.relpath((config_path.parent / section["trace"]).resolve(),
                                               out.resolve().parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"# tuned by forecastscale tune from {config_path}\n" + yaml.safe_dump(tuned, sort_keys=False),
                   encoding="utf-8")


def tune_command(
    config: Annotated[Path, typer.Option(help="YAML config whose target is tuned.")],
    slo: Annotated[str, typer.Option(
        help=f"METRIC<=NUMBER to meet, METRIC one of {', '.join(SLO_METRICS)}.")],
    trace: Annotated[Path | None, typer.Option(help="History as a 'timestamp,value' CSV.")] = None,
    prometheus: Annotated[str | None, typer.Option(
        help="History from this Prometheus URL, with the target's queries.demand.")] = None,
    since: Annotated[str, typer.Option(help="With --prometheus: how far back (e.g. 14d, 36h).")] = "14d",
    target: Annotated[str | None, typer.Option(help="Target to tune (default: the first).")] = None,
    policy: Annotated[str, typer.Option(help="Policy whose knobs are tuned: reactive or predictive.")]
        = "predictive",
    split_fraction: Annotated[float, typer.Option(
        "--split", help="Share of the scored span tuned on; the rest is the report part.")] = 0.7,
    out: Annotated[Path | None, typer.Option(help="Write the tuned config here (YAML).")] = None,
    workers: Annotated[int | None, typer.Option("--jobs", help="Processes (default: one per core).")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Find the cheapest knob setting that meets an SLO on earlier history; check it on later history.

    Exit 0 with a setting, 1 when none meets the SLO on the tuning part, 2 on bad input.
    """
    try:
        goal = parse_slo(slo)
        cfg = load_config(config)
        chosen = select_target(config, cfg, target)
        scenario = build_scenario(cfg, chosen, load_history(
            cfg, chosen, trace=trace, prometheus=prometheus, since=since,
            now_s=datetime.now(tz=UTC).timestamp(), context="tune"))
        with progress_bar(quiet) as progress:
            task = progress.add_task(f"tuning {policy}", total=len(grid(policy)))
            result = tune(scenario, policy, goal, split_fraction, workers, lambda _: progress.advance(task))
    except NoSettingMeetsSlo as exc:
        err.print(f"[red]no setting:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    except (ForecastscaleError, ValueError) as exc:
        raise fail(exc if isinstance(exc, ForecastscaleError) else ForecastscaleError(str(exc))) from exc
    Console().print(frontier_report.tune_table(result, goal))
    if out is not None:
        _write_tuned(config, chosen.name, result.params, out)
        err.print(f"wrote {out}", highlight=False)
