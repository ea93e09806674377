"""``forecastscale replay``: the backtest on each target's real demand history from Prometheus."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from forecastscale.cli import reporting
from forecastscale.cli.app import err, fail, prometheus_url
from forecastscale.cli.backtest import (
    OPENMETRICS_HELP,
    QUIET_HELP,
    RUN_HELP,
    openmetrics_quantiles,
    parse_policy_list,
    run_scenarios,
    write_openmetrics,
)
from forecastscale.errors import ConfigError, ForecastscaleError

if TYPE_CHECKING:  # the backtest and sources layers load when `replay` runs (forecastscale.cli.app)
    from forecastscale.backtest.replay import ReplaySpan
    from forecastscale.backtest.runner import Scenario
    from forecastscale.backtest.suite import Job


def _fetch(jobs: list[Job], url: str, span: ReplaySpan, quiet: bool) -> list[Scenario]:
    from forecastscale.backtest.runner import build_scenario
    from forecastscale.sources.history import prometheus_history

    missing = [f"targets[{job.target.name}].queries.demand: required with --prometheus"
               for job in jobs if not job.config.query(job.target, "demand")]
    if missing:  # all of them, before fetching any
        raise ConfigError("replay", missing)
    scenarios = []
    for job in jobs:
        if not quiet:
            err.print(f"fetching {job.target.name}: {span.steps:,} steps from {url}", highlight=False, soft_wrap=True)
        history = prometheus_history(job.config, job.target, url, span.start, span.last, "replay")
        scenarios.append(build_scenario(job.config, job.target, history))
    return scenarios


def replay_command(
    config: Annotated[Path, typer.Option(metavar="PATH",
                                         help="YAML config: every target is replayed with its settings.")],
    prometheus: Annotated[str, typer.Option(
        metavar="URL", callback=prometheus_url,
        help="Prometheus URL; each target's history is its queries.demand (× workload.demand_scale).")],
    since: Annotated[str, typer.Option(metavar="DURATION", help="How much history, before --until (e.g. 7d, 36h).")]
        = "7d",
    until: Annotated[str | None, typer.Option(
        metavar="TIME", help="End of the history: now (default), a duration before now (e.g. 3h) or an ISO 8601 time "
        "such as 2024-01-01T00:00Z (UTC if no offset); rounded down to a whole decision step.")] = None,
    target: Annotated[str | None, typer.Option(metavar="NAME", help="Only this target of the config.")] = None,
    policy: Annotated[str, typer.Option(
        metavar="NAMES", help="Comma-separated policies, as for backtest. Default: reactive,predictive,oracle, plus "
        "forecast_only when a target has schedules.")] = "",
    model: Annotated[str | None, typer.Option(metavar="MODEL", help="Override every target's forecast.model.")]
        = None,
    json_out: Annotated[Path | None, typer.Option("--json", metavar="PATH", help="Write scores as JSON here.")]
        = None,
    plot: Annotated[Path | None, typer.Option(metavar="PATH", help="Write a PNG here: demand vs ready capacity.")]
        = None,
    plot_hours: Annotated[float, typer.Option(metavar="HOURS", help="Hours shown in the plot, from the end "
                                                                    "(0: all).")] = 48.0,
    openmetrics_out: Annotated[Path | None, typer.Option("--openmetrics", metavar="PATH", help=OPENMETRICS_HELP)]
        = None,
    run: Annotated[str | None, typer.Option("--run", metavar="LABEL", help=RUN_HELP)] = None,
    report_dir: Annotated[Path | None, typer.Option(
        "--report", metavar="DIR", help="Write results.json, results.md, backtest.png and index.html (one page "
        "with every table, verdict and plot, that opens from disk) into this directory.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help=QUIET_HELP)] = False,
) -> None:
    """Backtest every target of a config on its real demand history from Prometheus (all policies side by side).

    History: [until - since, until), the demand query evaluated at every decision step.

    Scored span: all of it after the warm-up (backtest.warmup_s; default 2 days, or 20 % of a shorter span).

    With --since 7d and no warmup_s the first 1.4 days warm up and the last 5.6 days are scored.
    """
    from forecastscale.backtest import openmetrics, report
    from forecastscale.backtest.replay import parse_until, replay_job, replay_json, replay_span, scored_hours
    from forecastscale.backtest.suite import select_target, with_model
    from forecastscale.config import load_config

    try:
        cfg = with_model(load_config(config), model)
        span = replay_span(since, parse_until(until, datetime.now(tz=UTC)), cfg.backtest.decision_interval_s)
        targets = [select_target(config, cfg, target)] if target else list(cfg.targets)
        jobs = [replay_job(config, cfg, t) for t in targets]
        policies = parse_policy_list(policy, jobs, False)  # bad input fails before any fetch
        scenarios = _fetch(jobs, prometheus, span, quiet)
        # What the service would have done: an SLO stated in the config is held at its own target.
        results = run_scenarios(jobs, scenarios, policies, quiet, openmetrics_quantiles(openmetrics_out), "config")
    except (ForecastscaleError, ValueError) as exc:
        raise fail(exc if isinstance(exc, ForecastscaleError) else ForecastscaleError(str(exc))) from exc
    out = Console()
    for r in results:
        if not quiet:
            err.print(f"{r.job.target.name}: {r.scenario.trace.report.summary()}", highlight=False, soft_wrap=True)
        reporting.show_trace(out, r)  # with a warning on stderr if predictive had too little history to forecast
    run_label = run or openmetrics.run_name(config, time.time())
    extras = [replay_json(prometheus, span, r.scenario.trace.name, run_label if openmetrics_out else None)
              for r in results]
    if json_out:
        report.write_json(results, json_out, extras)
    if report_dir:
        reporting.write_report(report_dir, results, (), extras, plot_hours, "forecastscale replay",
                               [f"config: {config}; history: {prometheus}, {span.label()}"])
    if plot:
        report.plot(results, plot, plot_hours)
    if openmetrics_out:
        write_openmetrics(results, openmetrics_out, run_label)
    if not quiet:
        err.print(escape(f"replayed {span.label()}: the last {scored_hours(cfg, span):g} h scored, after the warm-up"),
                  highlight=False, soft_wrap=True)
