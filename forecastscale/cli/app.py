"""The typer ``app`` and what every command shares: the error console, :func:`fail`, the progress bar,
the ``--prometheus`` check, and the help layout (:class:`Command`).

Commands are registered on ``app`` by :mod:`forecastscale.cli` (the package), which imports this
module and the command modules; none of them imports the package, so there is no import circle.

Start-up: ``forecastscale --help`` builds every command's options, so importing this package must stay
cheap (typer, rich's console, the config models at most). Command modules import the heavy layers
(backtest, service, sources: numpy, pandas, statsmodels, scikit-learn, kubernetes, matplotlib) inside
the functions that run them; tests/unit/cli/test_startup.py holds that line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import SplitResult, urlsplit

import typer
import typer.core
from rich.console import Console
from rich.markup import escape

from forecastscale import __version__
from forecastscale.edge import shown
from forecastscale.errors import ForecastscaleError, UsageError

if TYPE_CHECKING:
    from rich.progress import Progress


def _bare_flags(command: Any, ctx: Any) -> None:
    """Show a flag as ``--sweep``, not ``--sweep <bool>``: typer's rich help prints a type after every
    option, and one after a flag reads as if it took a value (``--sweep yes``, which then fails)."""
    for param in command.get_params(ctx):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""


# ctx and formatter are Any: typer >= 0.2x vendors its own click, older typer uses click's (same API).
class Command(typer.core.TyperCommand):
    """A command whose help shows flags bare (see :func:`_bare_flags`)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _bare_flags(self, ctx)
        super().format_help(ctx, formatter)


class Group(typer.core.TyperGroup):
    """The root command, its help laid out as :class:`Command`'s."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _bare_flags(self, ctx)
        super().format_help(ctx, formatter)


app = typer.Typer(
    cls=Group,
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
    """Progress on stderr: a bar with an ETA in a terminal, a line every 30 s otherwise (``quiet``: none);
    see :mod:`forecastscale.cli.progress`."""
    from forecastscale.cli.progress import make_progress  # rich.progress: loaded by the commands that show one

    return make_progress(quiet, err)


def prometheus_url(value: str | None) -> str | None:
    """``--prometheus``, checked as it is parsed: a malformed URL exits 2 with one line (not 1 at the first
    fetch, after the config and history have loaded)."""
    if value is None:
        return None
    try:
        return http_url("--prometheus", value)
    except ValueError as exc:
        raise fail(UsageError(str(exc))) from exc


def http_url(field: str, value: str) -> str:
    """``value`` if it is an ``http://`` or ``https://`` URL with a host and a valid port; ValueError naming
    ``field`` and the value if not."""
    parts = urlsplit(value)
    well_formed = parts.scheme in ("http", "https") and bool(parts.hostname) and _port_ok(parts)
    if not well_formed or not value.isprintable() or " " in value:
        raise ValueError(f"{field}: expected an http:// or https:// URL with a host, e.g. http://prometheus:9090, "
                         f"got {shown(value)}")
    return value


def _port_ok(parts: SplitResult) -> bool:
    """No port, or one in 1…65535 (``.port`` raises on a non-number or one out of range)."""
    try:
        return parts.port is None or parts.port > 0
    except ValueError:
        return False


def fail(exc: ForecastscaleError) -> typer.Exit:
    """Print ``exc`` as one red line; the exit (code 2) for bad input."""
    err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
    return typer.Exit(2)
