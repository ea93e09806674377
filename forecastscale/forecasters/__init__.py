"""Forecasters behind one protocol; :func:`make_forecaster` builds one by alias."""

from __future__ import annotations

from forecastscale.forecasters.base import Forecaster
from forecastscale.forecasters.holtwinters import HoltWinters
from forecastscale.forecasters.naive import SeasonalNaive

__all__ = ["Forecaster", "HoltWinters", "SeasonalNaive", "make_forecaster"]


def make_forecaster(alias: str, season_length: int, damped_trend: bool = False) -> Forecaster:
    """A fresh, unfitted forecaster for ``alias`` with a season of ``season_length`` steps."""
    if alias == SeasonalNaive.alias:
        return SeasonalNaive(season_length)
    if alias == HoltWinters.alias:
        return HoltWinters(season_length, damped_trend=damped_trend)
    raise ValueError(f"unknown forecaster {alias!r}; have 'seasonal_naive', 'holt_winters'")
