"""SARIMAX with Fourier seasonality: the forecaster contract, short-horizon accuracy, Gaussian quantiles."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from forecastscale.errors import NotEnoughHistory
from forecastscale.forecasters.base import Forecaster
from forecastscale.forecasters.sarimax import Sarimax, fourier_terms
from forecastscale.types import FloatArray

SEASON = 24  # contract checks: short series, fast fits
DAY = 288  # accuracy checks: 5-min steps
HOUR = 12
QUANTILES = [0.1, 0.5, 0.9, 0.99]
FACTORIES: dict[str, Callable[[], Sarimax]] = {
    "default": lambda: Sarimax(SEASON),
    "differenced": lambda: Sarimax(SEASON, order=(2, 1, 1)),
    "one_harmonic": lambda: Sarimax(SEASON, fourier_terms=1),
}


def _series(n: int = 10 * SEASON, seed: int = 7, period: int = SEASON, noise: float = 3.0) -> FloatArray:
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    return 50 + 20 * np.sin(2 * np.pi * k / period) + rng.normal(0, noise, n)


@pytest.fixture(params=sorted(FACTORIES), ids=sorted(FACTORIES))
def factory(request: pytest.FixtureRequest) -> Callable[[], Sarimax]:
    return FACTORIES[request.param]


def test_is_a_forecaster() -> None:
    assert isinstance(Sarimax(SEASON), Forecaster)
    assert Sarimax(SEASON).alias == "sarimax"


def test_needs_two_seasons(factory: Callable[[], Sarimax]) -> None:
    with pytest.raises(NotEnoughHistory, match="needs 48 samples, got 47"):
        factory().fit(_series()[: 2 * SEASON - 1])
    assert factory().fit(_series()[: 2 * SEASON]).predict(3).mean.shape == (3,)


def test_predict_before_fit_and_bad_arguments_are_rejected() -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        Sarimax(SEASON).predict(3)
    model = Sarimax(SEASON).fit(_series())
    with pytest.raises(ValueError, match="horizon"):
        model.predict(0)
    with pytest.raises(ValueError, match="quantile"):
        model.predict(3, [0.0])
    with pytest.raises(ValueError, match="season_length"):
        Sarimax(1)
    with pytest.raises(ValueError, match="fourier_terms"):
        Sarimax(SEASON, fourier_terms=SEASON // 2 + 1)
    with pytest.raises(ValueError, match="max_points"):
        Sarimax(SEASON, max_points=2 * SEASON - 1)
    with pytest.raises(ValueError, match="order"):
        Sarimax(SEASON, order=(1, -1, 1))


def test_fits_only_the_last_max_points() -> None:
    y = _series(20 * SEASON)
    whole = Sarimax(SEASON, max_points=4 * SEASON).fit(y).predict(SEASON, [0.9])
    tail = Sarimax(SEASON, max_points=4 * SEASON).fit(y[-4 * SEASON:]).predict(SEASON, [0.9])
    np.testing.assert_array_equal(whole.mean, tail.mean)
    np.testing.assert_array_equal(whole.quantile(0.9), tail.quantile(0.9))


def test_fourier_terms_are_harmonics_of_the_period() -> None:
    x = fourier_terms(np.arange(2 * DAY, dtype=np.float64), DAY, 2)
    assert x.shape == (2 * DAY, 4)
    np.testing.assert_allclose(x[:DAY], x[DAY:], atol=1e-9)  # one period later: the same row
    np.testing.assert_allclose(x[DAY // 4], [1.0, 0.0, 0.0, -1.0], atol=1e-12)  # a quarter: sin 1, cos 0


def test_daily_sine_is_forecast_an_hour_ahead() -> None:
    y = _series(7 * DAY + HOUR, seed=3, period=DAY, noise=0.2)
    fc = Sarimax(DAY).fit(y[:-HOUR]).predict(HOUR)
    # Amplitude 20: within 5 % of it over the next hour.
    assert np.mean(np.abs(fc.mean - y[-HOUR:])) < 0.05 * 20


def test_band_widens_when_noise_grows() -> None:
    quiet = Sarimax(SEASON).fit(_series(noise=1.0)).predict(SEASON, [0.5, 0.9])
    noisy = Sarimax(SEASON).fit(_series(noise=4.0)).predict(SEASON, [0.5, 0.9])
    gap_quiet = np.mean(quiet.quantile(0.9) - quiet.quantile(0.5))
    gap_noisy = np.mean(noisy.quantile(0.9) - noisy.quantile(0.5))
    assert gap_noisy > 2.5 * gap_quiet


def test_band_widens_with_horizon_for_persistent_errors() -> None:
    # AR(1) errors with φ = 0.9: the k-step standard error grows towards sd / sqrt(1 - φ²) ≈ 2.3 sd.
    rng = np.random.default_rng(11)
    noise = np.zeros(10 * SEASON)
    for t in range(1, noise.size):  # bounded: one pass over the series
        noise[t] = 0.9 * noise[t - 1] + rng.normal(0, 1.0)
    fc = Sarimax(SEASON).fit(_series(noise=0.0) + noise).predict(SEASON, [0.5, 0.9])
    gap = fc.quantile(0.9) - fc.quantile(0.5)
    assert np.all(np.diff(gap) >= -1e-9)
    assert gap[-1] > 1.8 * gap[0]


def test_upper_quantile_covers_held_out_data() -> None:
    # Stationary noise around a daily cycle: the 0.9 path should hold ~90 % of each next hour.
    hits = []
    for seed in range(4):  # bounded: four fits of a week, one hour held out each
        y = _series(7 * DAY + HOUR, seed=seed, period=DAY, noise=3.0)
        fc = Sarimax(DAY).fit(y[:-HOUR]).predict(HOUR, [0.9])
        hits.append(np.mean(y[-HOUR:] <= fc.quantile(0.9)))
    # Also over a whole day from one fit: the model is right for this series at every horizon.
    y = _series(8 * DAY, seed=9, period=DAY, noise=3.0)
    day = Sarimax(DAY).fit(y[:-DAY]).predict(DAY, [0.9])
    assert 0.8 <= np.mean(hits) <= 0.97
    assert 0.8 <= np.mean(y[-DAY:] <= day.quantile(0.9)) <= 0.97
