"""Holt-Winters (additive seasonality, optional damped trend) from statsmodels.

Initial level and season come from statsmodels' ``heuristic`` initialisation (a classical
decomposition of the first two seasons), so only the smoothing parameters are optimised:
~5 ms for a week at 5-min steps, against ~0.3 s when the 288 initial seasonal values are
estimated too. That makes an hourly refit of every target affordable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from forecastscale.errors import NotEnoughHistory
from forecastscale.forecasters.base import check_horizon, quiet_statsmodels, with_residual_quantiles
from forecastscale.types import FloatArray, Forecast


class HoltWinters:
    """Additive Holt-Winters with one seasonal period of ``season_length`` steps.

    Quantiles: empirical quantiles of the in-sample one-step residuals (an approximation
    that under-covers at long horizons; calibration is measured in the forecast benchmarks).
    """

    alias = "holt_winters"

    def __init__(self, season_length: int, damped_trend: bool = False) -> None:
        if season_length < 2:
            raise ValueError(f"season_length must be >= 2 steps, got {season_length}")
        self.season_length = season_length
        self.damped_trend = damped_trend
        self._result: Any = None

    def fit(self, y: FloatArray) -> Self:
        """Fit on ``y``; needs two whole seasons, and the heuristic initialisation's 10 + 2·⌊season/2⌋ samples
        (more than two seasons when a season is under 10 steps: statsmodels raises a plain ValueError there)."""
        need = max(2 * self.season_length, 10 + 2 * (self.season_length // 2))
        if len(y) < need:
            raise NotEnoughHistory(f"{self.alias} needs {need} samples, got {len(y)}")
        model = ExponentialSmoothing(
            np.asarray(y, dtype=np.float64),
            trend="add" if self.damped_trend else None,
            damped_trend=self.damped_trend,
            seasonal="add",
            seasonal_periods=self.season_length,
            initialization_method="heuristic",
        )
        with quiet_statsmodels():
            self._result = model.fit(use_brute=False)
        return self

    def predict(self, h: int, quantiles: Sequence[float] = ()) -> Forecast:
        """Point forecast for ``h`` steps with residual quantiles."""
        check_horizon(h)
        if self._result is None:
            raise RuntimeError("predict() before fit()")
        mean = np.asarray(self._result.forecast(h), dtype=np.float64)
        return with_residual_quantiles(mean, np.asarray(self._result.resid), quantiles)
