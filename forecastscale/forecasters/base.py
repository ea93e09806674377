"""The forecaster protocol (statsforecast's contract) and the margin every model shares.

A forecaster is fitted on a regular series ``y`` (one value per fit step, oldest first) and
predicts ``h`` steps after the last fitted value, with any set of quantiles in (0, 1).
Fitting the same ``y`` twice gives the same forecast (no hidden randomness).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol, Self, runtime_checkable

import numpy as np
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

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
    for q in check_quantiles(quantiles):
        margin = float(np.quantile(finite, q)) if finite.size else 0.0
        out[q] = np.maximum(mean + margin, 0.0)
    return Forecast(mean=mean, quantiles=out)


def check_quantiles(quantiles: Sequence[float]) -> list[float]:
    """The requested quantiles, sorted and de-duplicated; ``ValueError`` for one outside (0, 1)."""
    qs = sorted(set(quantiles))
    for q in qs:
        if not 0 < q < 1:
            raise ValueError(f"quantile must be in (0, 1), got {q}")
    return qs


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


@contextmanager
def quiet_statsmodels() -> Iterator[None]:
    """One BLAS thread and no convergence chatter around a statsmodels fit or forecast.

    The models' matrices are tiny, and OpenBLAS threads spinning against any other busy process
    made fits 8-20x slower on 2 cores (SARIMAX 0.2 s → 4 s). Convergence and runtime warnings
    are expected on flat or short series; the fit is still usable.
    """
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        for category in (ConvergenceWarning, RuntimeWarning, UserWarning):
            warnings.simplefilter("ignore", category)
        yield
