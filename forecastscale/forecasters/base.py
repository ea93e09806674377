"""The forecaster protocol (statsforecast's contract) and the margin every model shares.

A forecaster is fitted on a regular series ``y`` (one value per fit step, oldest first) and
predicts ``h`` steps after the last fitted value, with any set of quantiles in (0, 1).
Fitting the same ``y`` twice gives the same forecast (no hidden randomness).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, Self, runtime_checkable

import numpy as np

from forecastscale.types import FloatArray, Forecast


@runtime_checkable
class Forecaster(Protocol):
    """``fit(y) -> self`` then ``predict(h, quantiles)``; ``alias`` names the model."""

    alias: str

    def fit(self, y: FloatArray) -> Self:
        """Fit on ``y``; raises :class:`NotEnoughHistory` when ``y`` is too short."""
        ...

    def predict(self, h: int, quantiles: Sequence[float] = ()) -> Forecast:
        """Forecast ``h`` steps; one non-decreasing path per requested quantile."""
        ...


def with_residual_quantiles(
    mean: FloatArray, residuals: FloatArray, quantiles: Sequence[float]
) -> Forecast:
    """Add empirical quantiles of past forecast errors to a point forecast.

    This is the composable safety margin: ``q`` path = point + q-quantile of the residuals
    (actual − forecast). Quantiles of one sample set are monotone in ``q``, so the paths
    come out ordered. Demand is never negative, so paths are clipped at 0.
    """
    finite = residuals[np.isfinite(residuals)]
    mean = np.maximum(mean, 0.0)
    out: dict[float, FloatArray] = {}
    for q in sorted(quantiles):
        if not 0 < q < 1:
            raise ValueError(f"quantile must be in (0, 1), got {q}")
        margin = float(np.quantile(finite, q)) if finite.size else 0.0
        out[q] = np.maximum(mean + margin, 0.0)
    return Forecast(mean=mean, quantiles=out)


def check_horizon(h: int) -> None:
    """Reject a horizon that is not a positive whole number of steps."""
    if h < 1:
        raise ValueError(f"horizon h must be >= 1 step, got {h}")


def clip_outliers(y: FloatArray, k: float) -> FloatArray:
    """``y`` with values above ``median + k · 1.4826 · MAD`` lowered to that bound (robust z-score > k).

    Only upward spikes are clipped: a drop to zero is a real quiet period, and the model should see
    it. A series with MAD 0 (mostly constant) is returned unchanged.
    """
    median = float(np.median(y))
    mad = float(np.median(np.abs(y - median)))
    if mad == 0:
        return y
    clipped: FloatArray = np.minimum(y, median + k * 1.4826 * mad)
    return clipped
