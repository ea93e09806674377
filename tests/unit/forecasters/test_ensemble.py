"""Ensemble: the forecaster contract, robust median, weighted mean, skipped members, skill weights."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Self

import numpy as np
import pytest

from forecastscale.errors import NotEnoughHistory
from forecastscale.forecasters.base import Forecaster
from forecastscale.forecasters.ensemble import Ensemble
from forecastscale.forecasters.holtwinters import HoltWinters
from forecastscale.forecasters.naive import SeasonalNaive
from forecastscale.types import FloatArray, Forecast

SEASON = 24
QUANTILES = [0.1, 0.5, 0.9, 0.99]


def _series(n: int = 10 * SEASON, seed: int = 7) -> FloatArray:
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    return 50 + 20 * np.sin(2 * np.pi * k / SEASON) + rng.normal(0, 3, n)


class _Flat:
    """A constant forecast ``level``; quantile ``q`` at ``level + spread * (q - 0.5)``.

    A negative ``spread`` makes the member's own quantile paths cross.
    """

    def __init__(self, level: float, spread: float = 10.0, min_history: int = 1, alias: str = "flat") -> None:
        self.level, self.spread, self.min_history, self.alias = level, spread, min_history, alias
        self.fitted = False

    def fit(self, y: FloatArray) -> Self:
        if len(y) < self.min_history:
            raise NotEnoughHistory(f"{self.alias} needs {self.min_history} samples, got {len(y)}")
        self.fitted = True
        return self

    def predict(self, h: int, quantiles: Sequence[float] = ()) -> Forecast:
        return Forecast(mean=np.full(h, self.level),
                        quantiles={q: np.full(h, self.level + self.spread * (q - 0.5)) for q in quantiles})


def _trio() -> Ensemble:
    return Ensemble([SeasonalNaive(SEASON), HoltWinters(SEASON), HoltWinters(SEASON, damped_trend=True)])


def test_is_a_forecaster() -> None:
    model = _trio()
    assert isinstance(model, Forecaster)
    assert model.alias == "ensemble"


def test_median_ignores_one_wildly_wrong_member() -> None:
    y = _series(12 * SEASON)
    good: list[Forecaster] = [SeasonalNaive(SEASON), HoltWinters(SEASON)]
    model = Ensemble([*good, _Flat(1e4, alias="wild")]).fit(y[: 10 * SEASON])
    fc = model.predict(2 * SEASON, [0.9])
    actual = y[10 * SEASON:]
    assert np.mean(np.abs(fc.mean - actual)) < 6  # noise sd 3 around a ±20 cycle, as in the contract
    # Median of three = the middle one: never further out than the good members' own range.
    means = np.vstack([m.predict(2 * SEASON).mean for m in good])
    assert np.all((means.min(axis=0) <= fc.mean) & (fc.mean <= means.max(axis=0)))


def test_weights_one_and_zero_give_the_first_member() -> None:
    y = _series()
    zero = _Flat(1e4, alias="ignored")
    model = Ensemble([HoltWinters(SEASON), zero], weights=[1.0, 0.0], combine="weighted").fit(y)
    fc = model.predict(SEASON, QUANTILES)
    alone = HoltWinters(SEASON).fit(y).predict(SEASON, QUANTILES)
    np.testing.assert_allclose(fc.mean, alone.mean, rtol=0, atol=1e-12)
    for q in QUANTILES:
        np.testing.assert_allclose(fc.quantile(q), alone.quantile(q), rtol=0, atol=1e-12)
    assert model.members_fitted == ["holt_winters"]
    assert not zero.fitted  # a zero weight is not worth a fit


def test_weighted_mean_uses_normalised_weights() -> None:
    model = Ensemble([_Flat(10.0), _Flat(40.0)], weights=[3.0, 1.0], combine="weighted").fit(_series())
    fc = model.predict(4, [0.5, 0.9])
    np.testing.assert_allclose(fc.mean, 17.5)  # (3·10 + 1·40) / 4
    np.testing.assert_allclose(fc.quantile(0.9), 17.5 + 10.0 * 0.4)


def test_a_member_without_enough_history_is_skipped() -> None:
    y = _series()
    model = Ensemble([SeasonalNaive(SEASON), _Flat(1e4, min_history=10 * len(y), alias="slow"),
                      HoltWinters(SEASON)]).fit(y)
    assert model.members_fitted == ["seasonal_naive", "holt_winters"]
    fc = model.predict(SEASON, [0.9])
    pair = [SeasonalNaive(SEASON).fit(y).predict(SEASON, [0.9]), HoltWinters(SEASON).fit(y).predict(SEASON, [0.9])]
    np.testing.assert_allclose(fc.mean, (pair[0].mean + pair[1].mean) / 2)  # median of two = their mean


def test_a_refit_on_shorter_history_drops_the_member_that_no_longer_fits() -> None:
    model = Ensemble([_Flat(10.0, min_history=100, alias="long"), _Flat(20.0, alias="short")])
    assert model.fit(_series()).members_fitted == ["long", "short"]
    fc = model.fit(_series(50)).predict(3)
    assert model.members_fitted == ["short"]
    np.testing.assert_array_equal(fc.mean, 20.0)  # not the stale fit of "long"


def test_no_member_fits_names_every_member() -> None:
    model = _trio()
    with pytest.raises(NotEnoughHistory, match=r"seasonal_naive .*holt_winters .*holt_winters "):
        model.fit(_series(SEASON + 3))
    with pytest.raises(RuntimeError, match="before fit"):  # the failed fit left nothing to predict from
        model.predict(3)


@pytest.mark.parametrize("combine", ["median", "weighted"])
def test_quantiles_stay_ordered_and_non_negative_when_members_disagree(combine: str) -> None:
    # Different levels and spreads, one member's own paths crossing, one below zero.
    members = [_Flat(5.0, spread=40.0), _Flat(30.0, spread=-60.0), _Flat(-10.0, spread=2.0), _Flat(80.0, spread=1.0)]
    fc = Ensemble(members, combine=combine).fit(_series()).predict(6, QUANTILES)  # type: ignore[arg-type]
    paths = np.vstack([fc.quantile(q) for q in QUANTILES])
    assert np.all(np.diff(paths, axis=0) >= 0)
    assert np.all(paths >= 0)
    assert np.all(fc.mean >= 0)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"members": []}, "at least one member"),
    ({"combine": "mean"}, "combine"),
    ({"weights": [1.0, 1.0]}, "weighted' only"),
    ({"weights": [1.0], "combine": "weighted"}, "1 weights for 2 members"),
    ({"weights": [1.0, -1.0], "combine": "weighted"}, ">= 0"),
    ({"weights": [0.0, 0.0], "combine": "weighted"}, "not all 0"),
    ({"weights": [1.0, math.nan], "combine": "weighted"}, "finite"),
], ids=["no-members", "bad-combine", "weights-with-median", "weights-length", "negative", "all-zero", "nan"])
def test_bad_settings_are_rejected(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"members": [_Flat(1.0), _Flat(2.0)], **kwargs}
    with pytest.raises(ValueError, match=match):
        Ensemble(**args)  # type: ignore[arg-type]


def test_a_weighted_ensemble_is_the_weighted_mean() -> None:
    members = [_Flat(10.0, alias="good"), _Flat(40.0, alias="bad")]
    fc = Ensemble(members, [0.9, 0.1], combine="weighted").fit(_series()).predict(2)
    np.testing.assert_allclose(fc.mean, 0.9 * 10.0 + 0.1 * 40.0)
