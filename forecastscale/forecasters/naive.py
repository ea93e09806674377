"""Seasonal-naive: tomorrow looks like today (the baseline every model must beat)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np

from forecastscale.errors import NotEnoughHistory
from forecastscale.forecasters.base import check_horizon, with_residual_quantiles
from forecastscale.types import FloatArray, Forecast


class SeasonalNaive:
    """Forecast ``y[t + k] = y[t + k - season_length]``.

    Quantiles come from this model's own past errors: ``y[t] - y[t - season_length]`` over
    the fitted history, which is exactly its error at every horizon up to one season.
    Needs at least two seasons (one to copy, one to measure errors on).
    """

    alias = "seasonal_naive"

    def __init__(self, season_length: int) -> None:
        if season_length < 1:
            raise ValueError(f"season_length must be >= 1 step, got {season_length}")
        self.season_length = season_length
        self._last_season: FloatArray | None = None
        self._residuals: FloatArray = np.empty(0)

    def fit(self, y: FloatArray) -> Self:
        """Remember the last season of ``y`` and the seasonal differences as residuals."""
        s = self.season_length
        if len(y) < 2 * s:
            raise NotEnoughHistory(f"{self.alias} needs {2 * s} samples, got {len(y)}")
        y = np.asarray(y, dtype=np.float64)
        self._last_season = y[-s:].copy()
        self._residuals = y[s:] - y[:-s]
        return self

    def predict(self, h: int, quantiles: Sequence[float] = ()) -> Forecast:
        """Repeat the last season for ``h`` steps, with residual quantiles."""
        check_horizon(h)
        if self._last_season is None:
            raise RuntimeError("predict() before fit()")
        mean = np.resize(self._last_season, h)
        return with_residual_quantiles(mean, self._residuals, quantiles)
