"""The ``forecastscale`` command line (typer). Only argument handling lives here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from forecastscale import __version__
from forecastscale.backtest import report
from forecastscale.backtest.suite import Job, TraceResult, parse_policies, plan_jobs, run_job
from forecastscale.config import Config, load_config
from forecastscale.errors import ForecastscaleError
from forecastscale.sources.csvtrace import load_trace

DEFAULT_CONFIG = "elb_request_count.yaml"

app = typer.Typer(
    help="Scale GPU inference and job-queue workloads on Kubernetes ahead of demand.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"forecastscale {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """forecastscale: forecast each workload's demand and scale before it arrives."""


def bundled_data_dir() -> Path:
    """``data/`` in the current directory, else beside the installed package (a source checkout)."""
    for candidate in (Path.cwd() / "data", Path(__file__).resolve().parent.parent / "data"):
        if (candidate / DEFAULT_CONFIG).is_file():
            return candidate
    raise ForecastscaleError(
        f"no --config given and the bundled {DEFAULT_CONFIG} was not found in ./data or beside "
        "the package; run from the repository root or pass --config"
    )


def _estimate_steps(jobs: list[Job], n_policies: int) -> int:
    total = 0
    for job in jobs:
        trace = load_trace(job.trace_path)  # cheap (a CSV); gives the progress bar a true total
        total += int(trace.duration_s // job.config.backtest.decision_interval_s) * n_policies
    return total


def _run_all(jobs: list[Job], policies: list[str], quiet: bool) -> list[TraceResult]:
    total = _estimate_steps(jobs, len(policies))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    results = []
    with Progress(*columns, console=err, transient=True, disable=quiet) as progress:
        task = progress.add_task("replaying", total=total)
        done = 0
        for job in jobs:
            progress.update(task, description=f"replaying {job.trace_path.name}")
            base = done

            def on_progress(steps: int, base: int = base) -> None:
                progress.update(task, completed=base + steps)

            result = run_job(job, policies, on_progress)
            done = base + sum(len(result.scenario.demand) for _ in policies)
            progress.update(task, completed=done)
            results.append(result)
    return results


@app.command()
def backtest(
    trace: Annotated[list[Path] | None, typer.Option(
        "--trace", help="CSV 'timestamp,value' to replay (repeatable); replaces the config's "
        "traces and is replayed for --target (default: the config's first target).")] = None,
    config: Annotated[list[Path] | None, typer.Option(
        "--config", help=f"YAML config (repeatable). Default: data/{DEFAULT_CONFIG}.")] = None,
    target: Annotated[str | None, typer.Option(help="Only this target of the config.")] = None,
    policy: Annotated[str, typer.Option(
        help="Comma-separated policies: reactive (Kubernetes HPA v2 + cluster-autoscaler), "
        "predictive (forecast over the lead time, HPA floor), oracle (perfect foresight).")]
        = "reactive,predictive,oracle",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write scores as JSON here.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of demand vs ready capacity here.")] = None,
    plot_hours: Annotated[float, typer.Option(help="Hours shown in the plot, from the end (0: all).")] = 48.0,
    report_dir: Annotated[Path | None, typer.Option(
        "--report", help="Write results.json, results.md and backtest.png into this directory.")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar or trace summaries.")] = False,
) -> None:
    """Replay real demand through each policy and a simulated GPU cluster; compare GPU-hours and SLO.

    Scores exclude the warm-up span (default: first 2 days, or 20 % of a shorter trace).
    """
    try:
        policies = parse_policies(policy)
        paths = config or [bundled_data_dir() / DEFAULT_CONFIG]
        configs: list[tuple[Path, Config]] = [(p, load_config(p)) for p in paths]
        jobs = plan_jobs(configs, trace or [], target)
        results = _run_all(jobs, policies, quiet)
    except ForecastscaleError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    out = Console()
    for r in results:
        if not quiet:
            err.print(f"{r.job.trace_path.name}: {r.scenario.trace.report.summary()}",
                      highlight=False, soft_wrap=True)
        out.print(report.rich_table(r))
    if json_out:
        report.write_json(results, json_out)
    if plot:
        report.plot(results, plot, plot_hours)
    if report_dir:
        report.write_json(results, report_dir / "results.json")
        (report_dir / "results.md").write_text(report.markdown(results), encoding="utf-8")
        report.plot(results, report_dir / "backtest.png", plot_hours)


def main() -> None:
    """Console-script entry point."""
    app()
