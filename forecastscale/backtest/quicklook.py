"""``forecastscale forecast``: one series, one model, one forecast with its quantile band.

A quick look before trusting a model: the trace is averaged into fit steps, the model is fitted
on the last ``window`` of it and asked for ``horizon`` steps; ``auto`` first runs the same
rolling-origin selection the service runs and says what it chose and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import numpy as np

from forecastscale.backtest import explain
from forecastscale.backtest.runner import resample
from forecastscale.forecasters import MODELS, Forecaster, make_forecaster
from forecastscale.forecasters.select import Selection, calibrate, select
from forecastscale.sources.csvtrace import Trace
from forecastscale.types import FloatArray, Forecast


@dataclass(frozen=True)
class QuickLook:
    """The fitted history (``y`` per ``step_s``), the forecast, and the model that made it."""

    trace: Trace
    step_s: float
    y: FloatArray
    model: str
    forecast: Forecast
    selection: Selection | None

    def time_of(self, i: int) -> datetime:
        """Start time of fit step ``i`` (``len(y)`` = the first forecast step)."""
        return self.trace.start + timedelta(seconds=i * self.step_s)


def quick_look(trace: Trace, model: str, horizon_s: float, step_s: float, season_s: float, window_s: float,
               quantiles: tuple[float, ...], extra_season_s: float | None = 7 * 86400) -> QuickLook:
    """Fit ``model`` (or choose one: ``auto``) on the end of ``trace`` and forecast ``horizon_s`` ahead."""
    step = max(step_s, trace.step_s)
    y = resample(trace, step, 1.0)
    season = max(2, round(season_s / step))
    extra = round(extra_season_s / step) if extra_season_s else 0
    seasons = (extra,) if extra > season else ()
    h = max(1, math.ceil(horizon_s / step))
    window = max(1, round(window_s / step))

    def build(alias: str) -> Forecaster:
        return make_forecaster(alias, season, seasons=seasons, horizon=h)

    selection = None
    if model == "auto":
        factories = {a: partial(build, a) for a in MODELS if a != "ensemble"}
        selection = select(factories, y, horizon=h, quantile=max(quantiles), season=season, window=window,
                           span=2 * season)
        model = selection.choice
    forecast = build(model).fit(y[-window:]).predict(h, quantiles)
    if selection is not None:
        forecast = Forecast(forecast.mean, calibrate(forecast.quantiles, max(quantiles), selection.shift))
    return QuickLook(trace, step, y, model, forecast, selection)


def plot(look: QuickLook, path: Path, history_s: float = 2 * 86400) -> None:  # pragma: no cover - drawing
    """The last ``history_s`` of the series, the forecast and its quantile band (PNG)."""
    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot as plt

    n, h = len(look.y), len(look.forecast.mean)
    first = max(0, n - round(history_s / look.step_s))
    past = np.array([look.time_of(i) for i in range(first, n)])
    ahead = np.array([look.time_of(i) for i in range(n, n + h)])
    fig, ax = plt.subplots(figsize=(12, 4))
    ax.plot(past, look.y[first:], color="black", lw=0.8, label="history")
    ax.plot(ahead, look.forecast.mean, color="tab:blue", lw=1.2, label=f"{look.model} forecast")
    qs = sorted(look.forecast.quantiles)
    if len(qs) >= 2:
        ax.fill_between(ahead, look.forecast.quantiles[qs[0]], look.forecast.quantiles[qs[-1]], color="tab:blue",
                        alpha=0.2, label=f"q{qs[0]:g}–q{qs[-1]:g}")
    for q in qs:
        ax.plot(ahead, look.forecast.quantiles[q], color="tab:blue", lw=0.6, ls="--")
    ax.set_title(f"{look.trace.name}: {look.model}, {h} steps of {look.step_s:g} s")
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    explain.save_figure(fig, path)


def summary_rows(look: QuickLook, points: int = 6) -> list[tuple[str, ...]]:
    """Rows ``(time, mean, q…)`` at up to ``points`` evenly spread forecast steps."""
    h = len(look.forecast.mean)
    qs = sorted(look.forecast.quantiles)
    rows = []
    for k in sorted({int(x) for x in np.linspace(0, h - 1, min(points, h))}):
        values = [look.forecast.mean[k], *(look.forecast.quantiles[q][k] for q in qs)]
        rows.append((look.time_of(len(look.y) + k).isoformat(sep=" "), *(f"{v:.4g}" for v in values)))
    return rows
