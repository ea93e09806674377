"""The ``forecastscale`` command line (typer). Only argument handling lives here.

Each command lives in its own module (backtest, tune, models: train and forecast, replay, run) and is
registered on :data:`~forecastscale.cli.app.app` below, in the order ``forecastscale --help`` lists them.
"""

from __future__ import annotations

from forecastscale.cli import backtest, models, replay, run, tune
from forecastscale.cli.app import app

app.command("backtest")(backtest.backtest)
app.command("tune")(tune.tune_command)
app.command("train")(models.train_command)
app.command("forecast")(models.forecast_command)
app.command("replay")(replay.replay_command)
app.command("run")(run.run_command)


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
