"""Rolling-origin evaluation: how a forecaster would have done on a series' own past.

At each origin ``o`` the model is fitted on ``y[o - window : o]`` and asked for ``horizon``
steps; the forecast is scored against ``y[o : o + horizon]``. Scores are averaged over every
origin and step (:func:`aggregate`). The same scoring serves the automatic model choice
(:mod:`.select`) and the accuracy benchmark, so the benchmark measures exactly what the service optimises.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from forecastscale.errors import NotEnoughHistory
from forecastscale.forecasters.base import Forecaster
from forecastscale.types import FloatArray


@dataclass(frozen=True)
class Scores:
    """Mean scores over the origins a model could be fitted at (``origins``; 0 = none could).

    ``mae`` in demand units; ``mase`` = MAE / the in-sample seasonal-naive MAE of each training
    window (< 1 beats "same time last season" on average); ``pinball`` the quantile loss of the
    ``quantile`` path; ``coverage`` the share of actuals at or below that path.
    """

    mae: float
    mase: float
    pinball: float
    coverage: float
    origins: int


def pinball_loss(actual: FloatArray, predicted: FloatArray, q: float) -> float:
    """Mean quantile (pinball) loss of ``predicted`` as the ``q`` quantile of ``actual``."""
    diff = actual - predicted
    return float(np.mean(np.maximum(q * diff, (q - 1) * diff)))


def origins_for(n: int, horizon: int, count: int, min_train: int, span: int | None = None) -> list[int]:
    """Up to ``count`` origins evenly spread over the last ``span`` steps (default: all usable ones).

    Every origin leaves ``min_train`` steps before it and ``horizon`` after it.
    """
    last = n - horizon
    first = min_train if span is None else max(min_train, last - span)
    if count < 1 or last < first:
        return []
    return sorted({round(float(x)) for x in np.linspace(first, last, count)})


@dataclass(frozen=True)
class OriginScore:
    """One origin's scores (see :class:`Scores`)."""

    origin: int
    mae: float
    scale: float  # in-sample seasonal-naive MAE of the training window (MASE denominator)
    pinball: float
    coverage: float
    excess: tuple[float, ...] = ()  # actual − quantile path, per step: what calibration works from

    def shifted(self, shift: float, quantile: float) -> OriginScore:
        """The scores had the quantile path been ``shift`` higher (a calibrated band)."""
        e = np.asarray(self.excess) - shift  # actual − (upper + shift)
        loss = float(np.mean(np.maximum(quantile * e, (quantile - 1) * e)))
        return OriginScore(self.origin, self.mae, self.scale, loss, float(np.mean(e <= 0)), tuple(e))


def calibration_shift(scores: Sequence[OriginScore | None], quantile: float) -> float:
    """Split-conformal shift of the ``quantile`` path: its empirical ``quantile`` of actual − path.

    Raising the path by it makes the out-of-sample coverage on these origins equal ``quantile``
    (0 when nothing was scored).
    """
    excess = sorted(e for s in scores if s is not None for e in s.excess)
    if not excess:
        return 0.0
    # Split conformal's finite-sample rank: the ceil((n + 1)·q)-th smallest of n errors (the
    # largest when n is small), so the band covers at least q on fresh data, not just on these.
    rank = min(math.ceil((len(excess) + 1) * quantile), len(excess))
    return float(excess[rank - 1])


def score_horizons(factory: Callable[[], Forecaster], y: FloatArray, o: int, horizons: Sequence[int],
                   quantile: float, season: int, window: int | None = None) -> dict[int, OriginScore] | None:
    """Fit once on the ``window`` steps before ``o``; score the first ``h`` steps for each ``h``.

    None if the model cannot be fitted on that history.
    """
    train = y[max(0, o - window) if window else 0: o]
    try:
        forecast = factory().fit(train).predict(max(horizons), (quantile,))
    except NotEnoughHistory:
        return None
    scale = float(np.mean(np.abs(train[season:] - train[:-season]))) if len(train) > season else math.nan
    out = {}
    for h in horizons:
        actual = y[o: o + h]
        upper = forecast.quantiles[quantile][: len(actual)]
        mae = float(np.mean(np.abs(actual - forecast.mean[: len(actual)])))
        out[h] = OriginScore(o, mae, scale, pinball_loss(actual, upper, quantile), float(np.mean(actual <= upper)),
                             tuple(float(x) for x in actual - upper))
    return out


def score_origin(factory: Callable[[], Forecaster], y: FloatArray, o: int, horizon: int, quantile: float,
                 season: int, window: int | None = None) -> OriginScore | None:
    """:func:`score_horizons` for one horizon."""
    scored = score_horizons(factory, y, o, (horizon,), quantile, season, window)
    return None if scored is None else scored[horizon]


def aggregate(scores: Sequence[OriginScore | None]) -> Scores:
    """Mean scores over the origins that could be scored (NaN everywhere if none)."""
    done = [s for s in scores if s is not None]
    if not done:
        return Scores(math.nan, math.nan, math.nan, math.nan, 0)
    mases = [s.mae / s.scale for s in done if s.scale > 0]
    return Scores(float(np.mean([s.mae for s in done])), float(np.mean(mases)) if mases else math.nan,
                  float(np.mean([s.pinball for s in done])), float(np.mean([s.coverage for s in done])), len(done))

