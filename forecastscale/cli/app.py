"""The typer ``app`` and what every command shares: the error console, :func:`fail`, the progress bar.

Commands are registered on ``app`` by :mod:`forecastscale.cli` (the package), which imports this
module and the command modules; none of them imports the package, so there is no import circle.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from forecastscale import __version__
from forecastscale.errors import ForecastscaleError

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


def progress_bar(quiet: bool) -> Progress:
    """A transient progress bar on stderr (``quiet``: none)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=err, transient=True, disable=quiet)


def fail(exc: ForecastscaleError) -> typer.Exit:
    """Print ``exc`` as one red line; the exit (code 2) for bad input."""
    err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
    return typer.Exit(2)
