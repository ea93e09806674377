"""Forecasters behind one protocol; :func:`make_forecaster` builds one by alias."""

from __future__ import annotations

from forecastscale.forecasters.base import Forecaster
from forecastscale.forecasters.holtwinters import HoltWinters
from forecastscale.forecasters.naive import SeasonalNaive
from forecastscale.forecasters.transform import Transform, Transformed

__all__ = ["Forecaster", "HoltWinters", "SeasonalNaive", "Transform", "Transformed", "make_forecaster"]


def make_forecaster(alias: str, season_length: int, damped_trend: bool = False,
                    transform: Transform = "none") -> Forecaster:
    """A fresh, unfitted forecaster for ``alias`` with a season of ``season_length`` steps,
    fitted on the ``transform`` scale (``none``, ``sqrt``, ``log``)."""
    model: Forecaster
    if alias == SeasonalNaive.alias:
        model = SeasonalNaive(season_length)
    elif alias == HoltWinters.alias:
        model = HoltWinters(season_length, damped_trend=damped_trend)
    else:
        raise ValueError(f"unknown forecaster {alias!r}; have 'seasonal_naive', 'holt_winters'")
    return model if transform == "none" else Transformed(model, transform)
