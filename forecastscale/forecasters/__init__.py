"""Forecasters behind one protocol; :func:`make_forecaster` builds one by alias."""

from __future__ import annotations

from collections.abc import Sequence

from forecastscale.forecasters.base import Forecaster
from forecastscale.forecasters.holtwinters import HoltWinters
from forecastscale.forecasters.naive import SeasonalNaive
from forecastscale.forecasters.transform import Transform, Transformed

__all__ = ["MODELS", "Forecaster", "HoltWinters", "SeasonalNaive", "Transform", "Transformed", "make_forecaster"]

MODELS = ("seasonal_naive", "holt_winters", "mstl", "sarimax", "gbm", "ensemble")


def _model(alias: str, season: int, damped: bool, seasons: Sequence[int], horizon: int) -> Forecaster:
    # Imported here: the heavier models (statsmodels MSTL/SARIMAX, scikit-learn) load only when used.
    if alias == SeasonalNaive.alias:
        return SeasonalNaive(season)
    if alias == HoltWinters.alias:
        return HoltWinters(season, damped_trend=damped)
    if alias == "mstl":
        from forecastscale.forecasters.mstl import Mstl
        return Mstl(periods=(season, *seasons))
    if alias == "sarimax":
        from forecastscale.forecasters.sarimax import Sarimax
        return Sarimax(season, max_points=7 * season)  # a week, whatever the step
    if alias == "gbm":
        from forecastscale.forecasters.gbm import QuantileGbm
        return QuantileGbm(season, horizon=horizon)
    if alias == "ensemble":
        from forecastscale.forecasters.ensemble import Ensemble
        return Ensemble([_model(a, season, damped, seasons, horizon) for a in ("seasonal_naive", "holt_winters",
                                                                               "mstl")])
    raise ValueError(f"unknown forecaster {alias!r}; have {', '.join(MODELS)}")


def make_forecaster(alias: str, season_length: int, damped_trend: bool = False, transform: Transform = "none", *,
                    seasons: Sequence[int] = (), horizon: int = 12) -> Forecaster:
    """A fresh, unfitted forecaster for ``alias``.

    ``season_length`` is the main seasonal period in steps; ``seasons`` further periods (mstl,
    ensemble); ``horizon`` the steps a direct model (gbm) is trained for; the model is fitted on
    the ``transform`` scale (``none``, ``sqrt``, ``log``).
    """
    model = _model(alias, season_length, damped_trend, seasons, horizon)
    return model if transform == "none" else Transformed(model, transform)
