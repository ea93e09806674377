"""Fit any forecaster on a variance-stabilised scale (sqrt or log) and map the forecast back.

Demand made of counts is noisier when it is higher (Poisson-like: variance grows with the
mean), so one additive error margin is too wide at night and too narrow at the peak. Fitting
on ``sqrt(y)`` or ``log1p(y)`` makes the residual margin proportional to the level instead.
The maps are increasing, so quantiles map back exactly and stay ordered; the point forecast
maps back to a median-like value, not the mean.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Self

import numpy as np

from forecastscale.forecasters.base import Forecaster
from forecastscale.types import FloatArray, Forecast

Transform = Literal["none", "sqrt", "log"]

_MAPS: dict[str, tuple[Callable[[FloatArray], FloatArray], Callable[[FloatArray], FloatArray]]] = {
    "sqrt": (np.sqrt, np.square),
    "log": (np.log1p, np.expm1),
}


class Transformed:
    """``inner`` fitted on ``forward(y)``; every forecast path passed through ``inverse``."""

    def __init__(self, inner: Forecaster, transform: Literal["sqrt", "log"]) -> None:
        if transform not in _MAPS:
            raise ValueError(f"unknown transform {transform!r}; have {', '.join(_MAPS)}")
        self.inner = inner
        self.transform = transform
        self.alias = f"{inner.alias}+{transform}"
        self._forward, self._inverse = _MAPS[transform]

    def fit(self, y: FloatArray) -> Self:
        """Fit the inner model on the transformed (non-negative) series."""
        self.inner.fit(self._forward(np.maximum(np.asarray(y, dtype=np.float64), 0.0)))
        return self

    def predict(self, h: int, quantiles: Sequence[float] = ()) -> Forecast:
        """The inner forecast mapped back to demand units."""
        fc = self.inner.predict(h, quantiles)
        back = {q: np.maximum(self._inverse(p), 0.0) for q, p in fc.quantiles.items()}
        return Forecast(mean=np.maximum(self._inverse(fc.mean), 0.0), quantiles=back)
