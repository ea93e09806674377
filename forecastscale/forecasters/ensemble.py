"""Combine several forecasters step by step: the median (robust) or a weighted mean.

The median of three or more members ignores one member that is wildly wrong; a weighted
mean lets fixed weights decide. Either way each quantile path is combined across members
separately, then the paths are re-sorted per step so they stay ordered, and clipped at 0
like every forecast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, Self

import numpy as np

from forecastscale.errors import NotEnoughHistory
from forecastscale.forecasters.base import Forecaster, check_horizon, check_quantiles
from forecastscale.types import FloatArray, Forecast

Combine = Literal["median", "weighted"]


class Ensemble:
    """Fit every member on the same ``y``; forecast the members' combination.

    ``combine="median"``: per step, the median across members of the mean and of each
    quantile path (``weights`` must be None). ``combine="weighted"``: the weighted mean with
    ``weights`` (non-negative, one per member; default equal) normalised over the members
    that fitted. A member with weight 0 is not fitted at all.

    A member that raises :class:`NotEnoughHistory` is left out of this fit (the others carry
    the forecast until it has history); ``members_fitted`` lists the aliases that made it.
    Only when every member is left out does the ensemble raise ``NotEnoughHistory`` itself.
    """

    alias = "ensemble"

    def __init__(self, members: Sequence[Forecaster], weights: Sequence[float] | None = None,
                 combine: Combine = "median") -> None:
        if not members:
            raise ValueError("an ensemble needs at least one member")
        if combine not in ("median", "weighted"):
            raise ValueError(f"combine must be 'median' or 'weighted', got {combine!r}")
        if weights is not None:
            if combine != "weighted":
                raise ValueError("weights apply to combine='weighted' only")
            if len(weights) != len(members):
                raise ValueError(f"{len(weights)} weights for {len(members)} members")
            if not all(math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
                raise ValueError(f"weights must be finite, >= 0 and not all 0, got {list(weights)}")
        self.members = list(members)
        self.weights = [1.0] * len(members) if weights is None else [float(w) for w in weights]
        self.combine = combine
        self.members_fitted: list[str] = []
        self._fitted: list[int] = []  # indices into members, for the last successful fit

    def fit(self, y: FloatArray) -> Self:
        """Fit each member with a positive weight; skip those without enough history."""
        self._fitted, self.members_fitted = [], []
        short: list[str] = []
        for i, member in enumerate(self.members):
            if self.weights[i] == 0:
                continue
            try:
                member.fit(y)
            except NotEnoughHistory as err:
                short.append(f"{member.alias} ({err})")
                continue
            self._fitted.append(i)
        if not self._fitted:
            raise NotEnoughHistory(f"{self.alias}: no member could fit: {'; '.join(short)}")
        self.members_fitted = [self.members[i].alias for i in self._fitted]
        return self

    def predict(self, h: int, quantiles: Sequence[float] = ()) -> Forecast:
        """Combine the fitted members' ``h``-step forecasts, step by step."""
        check_horizon(h)
        qs = check_quantiles(quantiles)
        if not self._fitted:
            raise RuntimeError("predict() before fit()")
        forecasts = [self.members[i].predict(h, qs) for i in self._fitted]
        weights = np.array([self.weights[i] for i in self._fitted])
        mean = np.maximum(self._combine(np.vstack([fc.mean for fc in forecasts]), weights), 0.0)
        if not qs:
            return Forecast(mean=mean)
        # stack: (member, quantile, step) → combined: (quantile, step)
        stack = np.stack([np.vstack([fc.quantile(q) for q in qs]) for fc in forecasts])
        # Median and weighted mean keep ordered inputs ordered; the sort guards against a
        # member whose own paths cross.
        paths = np.maximum(np.sort(self._combine(stack, weights), axis=0), 0.0)
        return Forecast(mean=mean, quantiles={q: paths[j] for j, q in enumerate(qs)})

    def _combine(self, stack: FloatArray, weights: FloatArray) -> FloatArray:
        """Reduce the member axis (0) of ``stack``."""
        if self.combine == "median":
            return np.asarray(np.median(stack, axis=0), dtype=np.float64)
        return np.asarray(np.tensordot(weights / weights.sum(), stack, axes=1), dtype=np.float64)

