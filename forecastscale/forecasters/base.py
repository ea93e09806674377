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


def level_shift(y: FloatArray, season: int, k: float) -> tuple[int, float] | None:
    """The largest lasting level shift in ``y``: ``(index, size)``, or None if there is none.

    Rule: in the seasonal differences ``d[t] = y[t] − y[t − season]`` a step of size Δ at ``i``
    is a run of ``season`` values near Δ (the season before it is on the old level, the season
    after on the new). The run is found as the largest |moving median| of ``d`` over ``season``
    steps; it is a shift when that exceeds ``k`` robust standard deviations of ``d``
    (1.4826 · MAD) — a one-off spike moves a moving median by nothing. A shift less than half
    a season ago is not judged yet (a burst looks the same for a while).
    """
    if season < 2 or len(y) < 3 * season:
        return None
    d = y[season:] - y[:-season]
    sigma = 1.4826 * float(np.median(np.abs(d - np.median(d))))
    # Windows run past the end on NaN padding, so a shift half a season old is still seen; a
    # partial window counts in proportion to its real values (else a short tail would outbid the
    # full window that marks where the shift began).
    padded = np.concatenate([d, np.full(season - season // 2, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, season)
    medians = np.nanmedian(windows, axis=1)
    weight = np.sum(~np.isnan(windows), axis=1) / season
    j = int(np.argmax(np.abs(medians) * weight))
    size = float(medians[j])
    if abs(size) * weight[j] <= k * max(sigma, 1e-12):
        return None
    # Where: the pulse position that best explains d (least absolute deviation after taking Δ
    # off it), a moving sum that also handles a pulse cut short by the end of the series.
    gain = np.concatenate([np.abs(d - size) - np.abs(d), np.zeros(season)])
    sums = np.convolve(gain, np.ones(season), mode="valid")[: len(d) - season // 2 + 1]
    return int(np.argmin(sums)) + season, size


def correct_level_shift(y: FloatArray, season: int, k: float) -> tuple[FloatArray, tuple[int, float] | None]:
    """``y`` with the history before its largest level shift moved onto the new level (see
    :func:`level_shift`), so a model fitted on it keeps the whole window's seasonal shape without
    dragging the old level into the forecast; clipped at 0 like demand. Unchanged if there is none."""
    found = level_shift(y, season, k)
    if found is None:
        return y, None
    at, size = found
    out = y.copy()
    out[:at] = np.maximum(out[:at] + size, 0.0)
    return out, found


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
