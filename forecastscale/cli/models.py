"""``forecastscale train`` and ``forecastscale forecast``: the forecasters from the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_args

import typer
from rich.console import Console
from rich.markup import escape

from forecastscale.cli.app import err, fail, prometheus_url
from forecastscale.config.forecast import ModelName
from forecastscale.errors import ConfigError, ForecastscaleError, NotEnoughHistory

if TYPE_CHECKING:  # forecasters, backtest and sources (statsmodels, scikit-learn, pandas) load when a command runs
    from forecastscale.config import Config, Target
    from forecastscale.sources.csvtrace import Trace

MODEL_CHOICES: tuple[str, ...] = get_args(ModelName)  # every forecaster, then auto


def _history(cfg: Config, target: Target, trace: Path | None, prometheus: str | None, since: str) -> Trace:
    """A target's history: --trace, else --prometheus with its demand query, else its config trace."""
    from forecastscale.sources.csvtrace import load_trace
    from forecastscale.sources.history import load_history

    if trace is None and prometheus is None:
        if target.backtest.trace is None:
            why = f"target {target.name!r}: no trace in the config; give --trace or --prometheus"
            raise ConfigError("train", [why])
        return load_trace(target.backtest.trace)
    return load_history(cfg, target, trace=trace, prometheus=prometheus, since=since,
                        now_s=datetime.now(tz=UTC).timestamp(), context="train")


def train_command(
    config: Annotated[Path, typer.Option(metavar="PATH", help="YAML config whose targets are trained.")],
    out: Annotated[Path, typer.Option(metavar="DIR", help="Directory for the model artifacts (one JSON per "
                                                          "target).")] = Path("models"),
    trace: Annotated[Path | None, typer.Option(metavar="PATH", help="History CSV (default: each target's config "
                                                                    "trace).")] = None,
    prometheus: Annotated[str | None, typer.Option(
        metavar="URL", callback=prometheus_url, help="History from this Prometheus URL instead.")] = None,
    since: Annotated[str, typer.Option(metavar="DURATION", help="With --prometheus: how far back (e.g. 14d, 36h).")]
        = "14d",
    target: Annotated[str | None, typer.Option(metavar="NAME", help="Train only this target (default: all).")]
        = None,
    model: Annotated[str | None, typer.Option(metavar="MODEL", help="Override forecast.model (e.g. auto).")] = None,
) -> None:
    """Choose (model: auto) or score each target's forecaster on its history and save it under --out.

    The artifact is JSON (model, selection scores, data span, library versions); `run` with
    service.models_dir starts from it. Exit 2 on bad input, 1 if a target has too little history.
    """
    from forecastscale.backtest.suite import select_target, with_model
    from forecastscale.backtest.train import train_target
    from forecastscale.config import load_config
    from forecastscale.forecasters.store import save as save_artifact

    try:
        cfg = with_model(load_config(config), model)
        chosen = [select_target(config, cfg, target)] if target else list(cfg.targets)
        histories = [_history(cfg, t, trace, prometheus, since) for t in chosen]
        source = str(trace or prometheus or config)
        paths = []
        for t, history in zip(chosen, histories, strict=True):
            artifact = train_target(cfg, t, history, source)
            paths.append(save_artifact(artifact, out))
            err.print(f"{t.name}: {artifact.model} — {artifact.reason}", highlight=False, soft_wrap=True)
    except NotEnoughHistory as exc:
        err.print(f"[red]too little history:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    except (ForecastscaleError, ValueError) as exc:
        raise fail(exc if isinstance(exc, ForecastscaleError) else ForecastscaleError(str(exc))) from exc
    for path in paths:
        typer.echo(f"wrote {path}")


def forecast_command(
    trace: Annotated[Path, typer.Option(metavar="PATH", help="History as a 'timestamp,value' CSV.")],
    model: Annotated[str, typer.Option(metavar="MODEL", help=f"One of {', '.join(MODEL_CHOICES)}.")] = "auto",
    horizon: Annotated[str, typer.Option(metavar="DURATION", help="How far ahead, e.g. 30m, 2h.")] = "30m",
    step: Annotated[str, typer.Option(metavar="DURATION", help="Fit step (the trace's own step if coarser).")]
        = "5m",
    season: Annotated[str, typer.Option(metavar="DURATION", help="Main seasonal period.")] = "1d",
    window: Annotated[str, typer.Option(metavar="DURATION", help="History fitted (the end of the trace).")] = "14d",
    quantiles: Annotated[str, typer.Option(metavar="Q,Q,...", help="Comma-separated quantiles in (0, 1).")]
        = "0.5,0.9,0.99",
    plot: Annotated[Path | None, typer.Option(metavar="PATH", help="Write the forecast with its quantile band here "
                                                                   "(PNG).")] = None,
) -> None:
    """Forecast the end of one series with one model (or auto's choice) and show the quantile band.

    Exit 2 on bad input, 1 if the model cannot be fitted on that much history.
    """
    from rich.table import Table

    from forecastscale.backtest.quicklook import plot as plot_forecast
    from forecastscale.backtest.quicklook import quick_look, summary_rows
    from forecastscale.sources.csvtrace import load_trace
    from forecastscale.sources.prometheus import parse_duration

    try:
        if model not in MODEL_CHOICES:
            raise ConfigError("--model", [f"must be one of {', '.join(MODEL_CHOICES)}, got {model!r}"])
        qs = tuple(sorted(float(q) for q in quantiles.split(",")))
        if not all(0 < q < 1 for q in qs):
            raise ConfigError("--quantiles", [f"each must be in (0, 1), got {quantiles!r}"])
        look = quick_look(load_trace(trace), model, parse_duration(horizon), parse_duration(step),
                          parse_duration(season), parse_duration(window), qs)
    except NotEnoughHistory as exc:
        err.print(f"[red]cannot forecast:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    except (ForecastscaleError, ValueError) as exc:
        raise fail(exc if isinstance(exc, ForecastscaleError) else ForecastscaleError(str(exc))) from exc
    if look.selection is not None:
        err.print(f"auto chose {look.model}: {look.selection.reason}", highlight=False, soft_wrap=True)
    table = Table(title=f"{look.trace.name}: {look.model}", title_justify="left")
    for column in ("time", "mean", *(f"q{q:g}" for q in sorted(look.forecast.quantiles))):
        table.add_column(column, justify="left" if column == "time" else "right")
    for row in summary_rows(look):
        table.add_row(*row)
    Console().print(table)
    if plot is not None:
        plot_forecast(look, plot)
        err.print(f"wrote {plot}", highlight=False)
