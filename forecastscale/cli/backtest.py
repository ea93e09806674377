"""``forecastscale backtest``: replay demand traces through the policies and a simulated GPU cluster,
and the helpers ``replay`` shares with it (running scenarios with a progress bar, policy lists, OpenMetrics)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_args

import typer
from rich.console import Console
from rich.markup import escape

from forecastscale.cli import reporting
from forecastscale.cli.app import err, fail, progress_bar
from forecastscale.config.slo import SloMetric
from forecastscale.errors import ConfigError, ForecastscaleError

# The backtest layer (numpy, pandas, statsmodels, matplotlib) loads inside the functions that run it: `--help`
# stays fast (forecastscale.cli.app).
if TYPE_CHECKING:
    from forecastscale.backtest.frontier_report import SweepResult
    from forecastscale.backtest.runner import Scenario
    from forecastscale.backtest.suite import Job, SloMode, TraceResult
    from forecastscale.backtest.window import ScoreWindow
    from forecastscale.config import Config

DEFAULT_CONFIG = "elb_request_count.yaml"
SLO_METRICS: tuple[str, ...] = get_args(SloMetric)  # what a frontier is read on: the metrics an slo can state

def bundled_data_dir() -> Path:
    """``data/`` in the current directory, else beside the installed package (a source checkout)."""
    for candidate in (Path.cwd() / "data", Path(__file__).resolve().parents[2] / "data"):
        if (candidate / DEFAULT_CONFIG).is_file():
            return candidate
    raise ForecastscaleError(
        f"no --config given and the bundled {DEFAULT_CONFIG} was not found in ./data or beside "
        "the package; run from the repository root or pass --config"
    )


def _run_all(jobs: list[Job], policies: list[str], quiet: bool, window: ScoreWindow | None = None,
             quantiles: tuple[float, ...] = (), slo: SloMode = "off") -> list[TraceResult]:
    from forecastscale.backtest.suite import scenario_for

    scenarios = [scenario_for(job, window) for job in jobs]  # all loaded first: the bar gets a true total
    return run_scenarios(jobs, scenarios, policies, quiet, quantiles, slo)


def run_scenarios(jobs: list[Job], scenarios: list[Scenario], policies: list[str], quiet: bool,
                  quantiles: tuple[float, ...] = (), slo: SloMode = "off") -> list[TraceResult]:
    """Run each job's scenario under ``policies`` with a progress bar (``quantiles``: see ``run_job``)."""
    from forecastscale.backtest.suite import run_job

    results = []
    with progress_bar(quiet) as progress:
        task = progress.add_task("replaying", total=sum(len(sc.demand) for sc in scenarios) * len(policies),
                                 unit="steps")
        done = 0
        for job, scenario in zip(jobs, scenarios, strict=True):
            progress.update(task, description=f"replaying {job.trace_path.name}")
            base = done

            def on_progress(steps: int, base: int = base) -> None:
                progress.update(task, completed=base + steps)

            result = run_job(job, scenario, policies, on_progress, quantiles, slo)
            done = base + len(result.scenario.demand) * len(policies)
            progress.update(task, completed=done)
            results.append(result)
    return results


def _sweep_all(results: list[TraceResult], metric: str, levels: tuple[float, ...], workers: int | None,
               quiet: bool) -> list[SweepResult]:
    from forecastscale.backtest.frontier_report import SweepResult
    from forecastscale.backtest.sweep import grid, sweep

    points_per_trace = sum(len(grid(p)) for p in ("reactive", "predictive"))
    swept = []
    with progress_bar(quiet) as progress:
        task = progress.add_task("sweeping", total=points_per_trace * len(results), unit="points")
        for r in results:
            progress.update(task, description=f"sweeping {r.job.trace_path.name}")
            points = sweep(r.scenario, ["reactive", "predictive"], workers, lambda _: progress.advance(task))
            oracle = r.runs["oracle"].scores.gpu_hours
            swept.append(SweepResult(r.job.trace_path.name, points, oracle, metric, levels))
    return swept


def _levels(text: str, metric: str) -> tuple[float, ...]:
    from forecastscale.backtest.sweep import DEFAULT_LEVELS

    if not text:
        return DEFAULT_LEVELS[metric]
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise ConfigError("--levels", [f"expected comma-separated numbers, got {text!r}"]) from None


def parse_policy_list(text: str, jobs: list[Job], do_sweep: bool) -> list[str]:
    """``--policy`` as given, or the default list for ``jobs``; a sweep needs oracle."""
    from forecastscale.backtest.suite import default_policies, parse_policies

    names = parse_policies(text) if text else default_policies(jobs)
    return [*names, "oracle"] if do_sweep and "oracle" not in names else names


def _check_shared(do_sweep: bool, window: str | None, trace: list[Path] | None) -> None:
    if do_sweep or window or trace:
        raise ConfigError("--shared-pool", ["replays the configs' targets together; it cannot be combined with "
                                            "--sweep, --window or --trace"])


def _shared_backtest(jobs: list[Job], policies: list[str], json_out: Path | None, quiet: bool,
                     report_dir: Path | None = None) -> None:
    from forecastscale.backtest import shared_report

    with progress_bar(quiet) as progress:
        task = progress.add_task("replaying shared pools", total=None)
        results = shared_report.run_pools(jobs, policies, lambda what: progress.update(task, description=what))
    out = Console()
    for r in results:
        reporting.show(out, shared_report.rich_table(r), shared_report.verdict(r))
        for line in shared_report.message_lines(r):
            out.print(escape(line), highlight=False, soft_wrap=True)
    if json_out:
        shared_report.write_json(results, json_out)
    if report_dir:
        reporting.write_shared_report(report_dir, results, [_configs_line(jobs)])


def _configs_line(jobs: list[Job]) -> str:
    """The page's first line: which configs ran."""
    return "configs: " + ", ".join(dict.fromkeys(str(job.config_path) for job in jobs))


OPENMETRICS_HELP = (
    "Write the scored steps as OpenMetrics for 'promtool tsdb create-blocks-from openmetrics': "
    "forecastscale_replay_demand, _forecast{quantile}, _desired_replicas, _ready_capacity and "
    "_underprovisioned (by policy), labelled run and target, at the trace's own times.")
RUN_HELP = "The run label of --openmetrics series. Default: the config file's name and the time now."
QUIET_HELP = "No progress (bar or log lines) and no trace summaries on stderr; the results still print."


def openmetrics_quantiles(openmetrics_out: Path | None) -> tuple[float, ...]:
    """Extra forecast quantiles to keep: the median, when the series are written."""
    from forecastscale.backtest import openmetrics

    return (openmetrics.MEDIAN,) if openmetrics_out else ()


def write_openmetrics(results: list[TraceResult], path: Path, run: str) -> None:
    """Write ``--openmetrics`` and say where, with the run label."""
    from forecastscale.backtest import openmetrics

    samples = openmetrics.write(results, path, run)
    err.print(f"wrote {samples:,} samples of run {run!r} to {path}", highlight=False, soft_wrap=True)


def backtest(
    trace: Annotated[list[Path] | None, typer.Option(
        "--trace", metavar="PATH", help="CSV 'timestamp,value' to replay (repeatable: --trace a.csv --trace "
        "b.csv); replaces the config's traces and is replayed for --target (default: the config's first target).")]
        = None,
    config: Annotated[list[Path] | None, typer.Option(
        "--config", metavar="PATH", help=f"YAML config (repeatable: --config a.yaml --config b.yaml). "
        f"Default: data/{DEFAULT_CONFIG}.")] = None,
    target: Annotated[str | None, typer.Option(metavar="NAME", help="Only this target of the config.")] = None,
    policy: Annotated[str, typer.Option(
        metavar="NAMES",
        help="Comma-separated policies: reactive (Kubernetes HPA v2 + cluster-autoscaler, no event floors), "
        "forecast_only (predictive without event floors), predictive (forecast over the lead time, HPA floor, "
        "event floors), oracle (perfect foresight). Default: reactive,predictive,oracle, plus forecast_only "
        "when a target has schedules.")] = "",
    json_out: Annotated[Path | None, typer.Option("--json", metavar="PATH", help="Write scores as JSON here.")]
        = None,
    plot: Annotated[Path | None, typer.Option(
        metavar="PATH", help="Write a PNG here: demand vs ready capacity, or with --sweep the frontiers.")] = None,
    plot_hours: Annotated[float, typer.Option(
        metavar="HOURS", help="Hours shown in the plot, from the end (0: all).")] = 48.0,
    report_dir: Annotated[Path | None, typer.Option(
        "--report", metavar="DIR", help="Write results.json, results.md, backtest.png (with --sweep also matched.md "
        "and frontier.png) and index.html, one page with every table, verdict and plot that opens from disk, "
        "into this directory.")] = None,
    do_sweep: Annotated[bool, typer.Option(
        "--sweep", help="Also sweep each policy over its knobs (reactive: target utilisation; predictive: "
        "utilisation × forecast quantile), report Pareto frontiers and GPU-hours at matched SLO.")] = False,
    slo_metric: Annotated[str, typer.Option(
        metavar="METRIC", help=f"SLO metric of the frontier: {', '.join(SLO_METRICS)}.")] = "underprovisioned_pct",
    levels: Annotated[str, typer.Option(
        metavar="LEVELS", help="Comma-separated SLO levels to match (default 0.1,0.5,1,2; p99_wait_s: 1,5,15,30).")]
        = "",
    workers: Annotated[int | None, typer.Option(
        "--jobs", metavar="N", help="Sweep processes (default: one per core; 1 runs in this process).")] = None,
    model: Annotated[str | None, typer.Option(
        metavar="MODEL", help="Override every target's forecast.model (e.g. auto, mstl, gbm).")] = None,
    window: Annotated[str | None, typer.Option(
        metavar="START/END", help="Score only START/END (ISO-8601 on the trace's clock, no zone = UTC), e.g. "
        "2014-12-31T23:00/2015-01-01T06:00; the replay starts the warm-up (or the fit window, if longer) "
        "before START. Adds under-provisioned minutes.")] = None,
    shared_pool: Annotated[bool, typer.Option(
        "--shared-pool", help="Replay the targets of each config that share a node pool together, in "
        "lockstep: when the pool's max_nodes binds, minima first, the rest by share × unmet demand.")] = False,
    openmetrics_out: Annotated[Path | None, typer.Option(
        "--openmetrics", metavar="PATH", help=OPENMETRICS_HELP)] = None,
    run: Annotated[str | None, typer.Option("--run", metavar="LABEL", help=RUN_HELP)] = None,
    slo_mode: Annotated[str, typer.Option(
        "--slo", metavar="MODE",
        help="For targets stating an slo: 'matched' (default) runs reactive first and holds predictive to "
        "the level reactive reached — GPU-hours compared at the same SLO, in one run; 'config' holds the config's "
        "slo.target; 'off' replays the knobs (forecast.quantile, scaling.target_utilisation).")] = "matched",
    quiet: Annotated[bool, typer.Option("--quiet", help=QUIET_HELP)] = False,
) -> None:
    """Replay real demand through each policy and a simulated GPU cluster; compare GPU-hours and SLO.

    Scores exclude the warm-up span (default: first 2 days, or 20 % of a shorter trace).
    """
    from forecastscale.backtest import frontier_report, openmetrics, report
    from forecastscale.backtest.suite import SLO_MODES, plan_jobs, with_model
    from forecastscale.backtest.window import parse_window
    from forecastscale.config import load_config

    try:
        if slo_metric not in SLO_METRICS:
            raise ConfigError("--slo-metric", [f"unknown metric {slo_metric!r}; have {', '.join(SLO_METRICS)}"])
        level_values = _levels(levels, slo_metric)
        if slo_mode not in SLO_MODES:
            raise ConfigError("--slo", [f"must be one of {', '.join(SLO_MODES)}, got {slo_mode!r}"])
        span = parse_window(window) if window else None
        if shared_pool:
            _check_shared(do_sweep, window, trace)
            if openmetrics_out:
                raise ConfigError("--openmetrics", ["writes one target's replay at a time: not with --shared-pool"])
        paths = config or [bundled_data_dir() / DEFAULT_CONFIG]
        configs: list[tuple[Path, Config]] = [(p, with_model(load_config(p), model)) for p in paths]
        jobs = plan_jobs(configs, trace or [], target)
        policies = parse_policy_list(policy, jobs, do_sweep)
        if shared_pool:
            _shared_backtest(jobs, policies, json_out, quiet, report_dir)
            return
        if openmetrics_out:
            openmetrics.check_targets(jobs)
        results = _run_all(jobs, policies, quiet, span, openmetrics_quantiles(openmetrics_out), slo_mode)
        swept = _sweep_all(results, slo_metric, level_values, workers, quiet) if do_sweep else []
    except ForecastscaleError as exc:
        raise fail(exc) from exc
    out = Console()
    for k, r in enumerate(results):
        if not quiet:
            err.print(f"{r.job.trace_path.name}: {r.scenario.trace.report.summary()}",
                      highlight=False, soft_wrap=True)
        reporting.show_trace(out, r)
        if swept:
            reporting.show_sweep(out, swept[k])
    extras = [frontier_report.sweep_json(s) for s in swept] or None
    if json_out:
        report.write_json(results, json_out, extras)
    if plot:
        if swept:
            frontier_report.plot_frontiers(swept, plot)
        else:
            report.plot(results, plot, plot_hours)
    if openmetrics_out:
        write_openmetrics(results, openmetrics_out, run or openmetrics.run_name(paths[0], time.time()))
    if report_dir:
        title = "forecastscale backtest --sweep" if swept else "forecastscale backtest"
        reporting.write_report(report_dir, results, swept, extras, plot_hours, title, [_configs_line(jobs)])
