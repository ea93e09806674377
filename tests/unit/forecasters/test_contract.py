"""One contract over every forecaster (statsforecast-style): shape, order, determinism."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from forecastscale.errors import NotEnoughHistory
from forecastscale.forecasters import MODELS, Forecaster, HoltWinters, SeasonalNaive, Transformed, make_forecaster
from forecastscale.forecasters.ensemble import Ensemble
from forecastscale.forecasters.gbm import QuantileGbm
from forecastscale.forecasters.mstl import Mstl
from forecastscale.forecasters.sarimax import Sarimax
from forecastscale.types import FloatArray

SEASON = 24
FACTORIES: dict[str, Callable[[], Forecaster]] = {
    "seasonal_naive": lambda: SeasonalNaive(SEASON),
    "holt_winters": lambda: HoltWinters(SEASON),
    "holt_winters_damped": lambda: HoltWinters(SEASON, damped_trend=True),
    "holt_winters+sqrt": lambda: Transformed(HoltWinters(SEASON), "sqrt"),
    "seasonal_naive+log": lambda: Transformed(SeasonalNaive(SEASON), "log"),
    "mstl": lambda: Mstl([SEASON]),
    "mstl_arima": lambda: Mstl([SEASON], remainder="arima"),
    "mstl_two_periods": lambda: Mstl([SEASON, 4 * SEASON]),
    "sarimax": lambda: Sarimax(SEASON),
    "sarimax_differenced": lambda: Sarimax(SEASON, order=(2, 1, 1)),
    "sarimax_one_harmonic": lambda: Sarimax(SEASON, fourier_terms=1),
    "gbm": lambda: QuantileGbm(SEASON, horizon=12),
    "ensemble": lambda: Ensemble([SeasonalNaive(SEASON), HoltWinters(SEASON), Mstl([SEASON])]),
    "ensemble_weighted": lambda: Ensemble([SeasonalNaive(SEASON), HoltWinters(SEASON)], [0.3, 0.7], "weighted"),
    "ensemble_via_make": lambda: make_forecaster("ensemble", SEASON, seasons=(4 * SEASON,)),
}
QUANTILES = [0.1, 0.5, 0.9, 0.99]


def _series(n: int = 10 * SEASON, seed: int = 7) -> FloatArray:
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    return 50 + 20 * np.sin(2 * np.pi * k / SEASON) + rng.normal(0, 3, n)


@pytest.fixture(params=sorted(FACTORIES), ids=sorted(FACTORIES))
def factory(request: pytest.FixtureRequest) -> Callable[[], Forecaster]:
    return FACTORIES[request.param]


@pytest.mark.parametrize("h", [1, 7, 3 * SEASON])
def test_length_h_and_every_quantile(factory: Callable[[], Forecaster], h: int) -> None:
    fc = factory().fit(_series()).predict(h, QUANTILES)
    assert fc.mean.shape == (h,)
    assert sorted(fc.quantiles) == QUANTILES
    assert all(path.shape == (h,) for path in fc.quantiles.values())


def test_quantiles_are_ordered_and_non_negative(factory: Callable[[], Forecaster]) -> None:
    fc = factory().fit(_series()).predict(2 * SEASON, QUANTILES)
    paths = np.vstack([fc.quantile(q) for q in QUANTILES])
    assert np.all(np.diff(paths, axis=0) >= 0)
    assert np.all(paths >= 0)


def test_fit_and_predict_are_deterministic(factory: Callable[[], Forecaster]) -> None:
    y = _series()
    a = factory().fit(y).predict(SEASON, QUANTILES)
    b = factory().fit(y.copy()).predict(SEASON, QUANTILES)
    np.testing.assert_array_equal(a.mean, b.mean)
    for q in QUANTILES:
        np.testing.assert_array_equal(a.quantile(q), b.quantile(q))


def test_follows_the_season(factory: Callable[[], Forecaster]) -> None:
    y = _series(12 * SEASON)
    fc = factory().fit(y[: 10 * SEASON]).predict(2 * SEASON, [0.9])
    actual = y[10 * SEASON:]
    # Noise sd is 3 around a ±20 cycle; a model that missed the season would be off by ~13.
    assert np.mean(np.abs(fc.mean - actual)) < 6
    assert 0.7 <= np.mean(actual <= fc.quantile(0.9)) <= 1.0


def test_short_history_is_a_temporary_error(factory: Callable[[], Forecaster]) -> None:
    with pytest.raises(NotEnoughHistory):
        factory().fit(_series()[: SEASON + 3])


def test_predict_before_fit_raises(factory: Callable[[], Forecaster]) -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        factory().predict(3)


def test_bad_horizon_and_quantile_are_rejected(factory: Callable[[], Forecaster]) -> None:
    model = factory().fit(_series())
    with pytest.raises(ValueError, match="horizon"):
        model.predict(0)
    with pytest.raises(ValueError, match="quantile"):
        model.predict(3, [1.0])


@pytest.mark.parametrize("alias", MODELS)
def test_registry_builds_each_alias(alias: str) -> None:
    model = make_forecaster(alias, SEASON)
    assert model.alias == alias
    assert isinstance(model, Forecaster)


def test_registry_wraps_a_transform() -> None:
    model = make_forecaster("holt_winters", SEASON, transform="sqrt")
    assert model.alias == "holt_winters+sqrt"


def test_transformed_margin_grows_with_the_level() -> None:
    # Poisson-like noise: the sqrt scale gives a wider margin at the peak than in the trough,
    # where one additive margin would be the same everywhere.
    rng = np.random.default_rng(3)
    k = np.arange(10 * SEASON)
    y = rng.poisson(5 + 95 * (1 + np.sin(2 * np.pi * k / SEASON)) / 2).astype(float)
    fc = Transformed(SeasonalNaive(SEASON), "sqrt").fit(y).predict(SEASON, [0.5, 0.95])
    margin = fc.quantile(0.95) - fc.quantile(0.5)
    peak, trough = int(np.argmax(fc.quantile(0.5))), int(np.argmin(fc.quantile(0.5)))
    assert margin[peak] > 2 * margin[trough]


def test_registry_rejects_unknown_alias() -> None:
    with pytest.raises(ValueError, match="unknown forecaster 'prophet'"):
        make_forecaster("prophet", SEASON)
