"""The ``forecastscale`` command line (typer). Only argument handling lives here.

Each command lives in its own module (backtest, tune, models: train and forecast, replay, run) and is
registered on :data:`~forecastscale.cli.app.app` below, in the order ``forecastscale --help`` lists them.
Importing them is cheap: each loads the heavy layers only when its command runs (see :mod:`~forecastscale.cli.app`).
"""

from __future__ import annotations

from forecastscale.cli import backtest, models, replay, run, tune
from forecastscale.cli.app import Command, app

app.command("backtest", cls=Command)(backtest.backtest)
app.command("tune", cls=Command)(tune.tune_command)
app.command("train", cls=Command)(models.train_command)
app.command("forecast", cls=Command)(models.forecast_command)
app.command("replay", cls=Command)(replay.replay_command)
app.command("run", cls=Command)(run.run_command)


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
