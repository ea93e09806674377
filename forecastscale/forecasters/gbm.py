"""Direct multi-horizon quantile gradient boosting (scikit-learn ``HistGradientBoostingRegressor``).

One model covers every step ``k = 1..horizon``: a training row is an *origin* ``t`` (the
samples ``y[:t]`` are known) paired with a step ``k``, and its target is ``y[t + k - 1]``.
Features, all in demand units unless noted:

- lags ``y[t - l]`` of the origin (lag 1 is the last known sample);
- mean and standard deviation of the last 12 samples and of the last season;
- the target's phase in the season (sin/cos), counted from the *end* of the fitted series:
  ``phase_i = (i - len(y)) mod season_length``. No timestamps reach a forecaster, and one
  fit only needs positions that agree between its training rows and its forecast;
- the target's last seen value at the same phase, ``y[t + k - 1 - season * ceil(k / season)]``
  (the seasonal-naive forecast, which a tree cannot rebuild from origin lags for every ``k``);
- ``k`` itself, in steps, so the fitted uncertainty can grow with the lead time.

The point forecast comes from a squared-error model; each quantile from its own pinball-loss
model, fitted lazily on the first ``predict`` that asks for it and cached until the next ``fit``.
Trees cannot extrapolate: a series that trends beyond its fitted range is forecast at the
edge of that range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.ensemble import HistGradientBoostingRegressor

from forecastscale.errors import NotEnoughHistory
from forecastscale.forecasters.base import check_horizon
from forecastscale.types import FloatArray, Forecast

# Short rolling window (steps): one hour at 5-min steps, the "recent level" next to the season's.
_SHORT_WINDOW = 12
# Cap on training rows (origins × steps). 14 days at 5-min steps with horizon 12 is ~45k rows,
# under the cap, so the documented workload keeps every origin; longer horizons thin origins.
_MAX_ROWS = 60_000


def default_lags(season_length: int) -> list[int]:
    """Lags 1, 2, 3, 6, 12 steps and one season ±1 step (the same time yesterday at 5-min steps)."""
    return sorted({1, 2, 3, 6, 12, season_length - 1, season_length, season_length + 1} - {0})


class QuantileGbm:
    """Direct multi-horizon gradient boosting with one pinball-loss model per quantile.

    ``horizon`` (steps) is the longest lead the model is trained for. ``predict(h)`` with
    ``h <= horizon`` reads every step from the fitted models; beyond ``horizon`` each step is
    predicted as a ``horizon``-step lead with its own phase and its own last-season value
    (``k`` clamped to ``horizon``): a season-aligned extension that keeps the quantile models,
    and that is as good as the season is regular. Quantile paths are sorted per step
    (rearrangement, so they never cross) and, like the mean, clipped at 0.

    Fits on at most the last ``max_points`` samples. Needs ``first_origin + season_length +
    horizon - 1`` samples (``first_origin`` = the longest lag or window, ``season_length + 1``
    with the default lags): at least one season of origins with every step observed.
    """

    alias = "gbm"

    def __init__(self, season_length: int, horizon: int = 12, lags: Sequence[int] | None = None,
                 max_iter: int = 100, max_points: int = 4032, random_state: int = 0) -> None:
        if season_length < 1:
            raise ValueError(f"season_length must be >= 1 step, got {season_length}")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1 step, got {horizon}")
        chosen = default_lags(season_length) if lags is None else sorted(set(lags))
        if not chosen or chosen[0] < 1:
            raise ValueError(f"lags must be >= 1 step and not empty, got {list(lags or [])}")
        if max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {max_iter}")
        self.season_length = season_length
        self.horizon = horizon
        self.lags = chosen
        self.max_iter = max_iter
        self.max_points = max_points
        self.random_state = random_state
        self._windows = sorted({_SHORT_WINDOW, season_length})
        # Every feature of origin t reads y[t - first_origin:t] at most.
        self._first_origin = max(self.lags[-1], self._windows[-1])
        self.min_samples = self._first_origin + season_length + horizon - 1
        self._y: FloatArray | None = None
        self._x: FloatArray = np.empty((0, 0))
        self._target: FloatArray = np.empty(0)
        self._mean_model: Any = None
        self._quantile_models: dict[float, Any] = {}

    def fit(self, y: FloatArray) -> Self:
        """Build the design rows from ``y`` and fit the point model; quantile models fit lazily."""
        if len(y) < self.min_samples:
            raise NotEnoughHistory(f"{self.alias} needs {self.min_samples} samples, got {len(y)}")
        y = np.asarray(y, dtype=np.float64)[-self.max_points:].copy()
        n = len(y)
        blocks: list[FloatArray] = []
        targets: list[FloatArray] = []
        origins_all = self._thin(np.arange(self._first_origin, n), n)
        for k in range(1, self.horizon + 1):
            origins = origins_all[origins_all + k - 1 < n]  # the target y[t + k - 1] is observed
            blocks.append(self._rows(y, origins, k))
            targets.append(y[origins + k - 1])
        self._y = y
        self._x = np.vstack(blocks)
        self._target = np.concatenate(targets)
        self._quantile_models = {}
        self._mean_model = self._model("squared_error").fit(self._x, self._target)
        return self

    def predict(self, h: int, quantiles: Sequence[float] = ()) -> Forecast:
        """Forecast ``h`` steps after the fitted series; fits any quantile model not cached yet."""
        check_horizon(h)
        qs = sorted(set(quantiles))
        for q in qs:
            if not 0 < q < 1:
                raise ValueError(f"quantile must be in (0, 1), got {q}")
        if self._y is None:
            raise RuntimeError("predict() before fit()")
        y, n = self._y, len(self._y)
        x = np.vstack([self._rows(y, np.array([n]), k) for k in range(1, h + 1)])
        mean = np.maximum(np.asarray(self._mean_model.predict(x), dtype=np.float64), 0.0)
        if not qs:
            return Forecast(mean=mean)
        for q in qs:
            if q not in self._quantile_models:
                self._quantile_models[q] = self._model("quantile", q).fit(self._x, self._target)
        # Separate pinball fits can cross; sorting each step across q restores the order.
        paths = np.sort(np.vstack([self._quantile_models[q].predict(x) for q in qs]), axis=0)
        paths = np.maximum(paths, 0.0)
        return Forecast(mean=mean, quantiles={q: paths[i].astype(np.float64) for i, q in enumerate(qs)})

    def _model(self, loss: str, quantile: float | None = None) -> Any:
        # No early stopping: its validation split is the only randomness, and it would make
        # the number of trees depend on which rows were held out.
        return HistGradientBoostingRegressor(loss=loss, quantile=quantile, max_iter=self.max_iter,
                                             early_stopping=False, random_state=self.random_state)

    def _thin(self, origins: FloatArray, n: int) -> Any:
        """Keep every origin while rows fit under ``_MAX_ROWS``; else keep the newest season whole
        and a regular stride of the older origins (stride coprime to the season, so the kept
        origins still visit every phase)."""
        if len(origins) * self.horizon <= _MAX_ROWS:
            return origins
        recent = origins[origins >= n - self.season_length]
        older = origins[origins < n - self.season_length]
        budget = max(_MAX_ROWS // self.horizon - len(recent), 1)
        stride = math.ceil(len(older) / budget)
        while math.gcd(stride, self.season_length) != 1:  # ends by stride = 1 mod season at most
            stride += 1
        return np.concatenate([older[::-1][::stride][::-1], recent])

    def _rows(self, y: FloatArray, origins: Any, k: int) -> FloatArray:
        """Feature rows for origins ``t`` (known ``y[:t]``) and step ``k``; ``k`` beyond
        ``horizon`` is entered as ``horizon`` with the true phase and last-season value."""
        s, n = self.season_length, len(y)
        cols: list[FloatArray] = [y[origins - lag] for lag in self.lags]
        for w in self._windows:
            window = sliding_window_view(y, w)[origins - w]  # y[t - w:t], one row per origin
            cols += [window.mean(axis=1), window.std(axis=1)]
        target = origins + k - 1
        angle = 2 * np.pi * ((target - n) % s) / s
        cols += [np.sin(angle), np.cos(angle), y[target - s * math.ceil(k / s)],
                 np.full(len(origins), float(min(k, self.horizon)))]
        return np.column_stack(cols)
