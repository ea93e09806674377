"""MSTL: the forecaster contract, multi-season accuracy and horizon-aware quantiles."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from statsmodels.tsa.seasonal import STL

from forecastscale.errors import NotEnoughHistory
from forecastscale.forecasters.base import Forecaster
from forecastscale.forecasters.mstl import Mstl, _self_weights
from forecastscale.types import FloatArray

SEASON = 24  # contract checks: short series, fast fits
DAY = 288  # accuracy checks: 5-min steps
WEEK = 7 * DAY
QUANTILES = [0.1, 0.5, 0.9, 0.99]
FACTORIES: dict[str, Callable[[], Mstl]] = {
    "ets": lambda: Mstl([SEASON]),
    "arima": lambda: Mstl([SEASON], remainder="arima"),
    "two_periods": lambda: Mstl([SEASON, 3 * SEASON]),
}


def _series(n: int = 10 * SEASON, seed: int = 7, period: int = SEASON, noise: float = 3.0) -> FloatArray:
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    return 50 + 20 * np.sin(2 * np.pi * k / period) + rng.normal(0, noise, n)


def _weekly(n: int, seed: int = 1) -> FloatArray:
    """Daily cycle plus a weekend (days 5 and 6 of each week) 15 units lower, noise sd 2."""
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    weekend = ((k // DAY) % 7 >= 5).astype(np.float64)
    return 50 + 20 * np.sin(2 * np.pi * k / DAY) - 15 * weekend + rng.normal(0, 2, n)


@pytest.fixture(params=sorted(FACTORIES), ids=sorted(FACTORIES))
def factory(request: pytest.FixtureRequest) -> Callable[[], Mstl]:
    return FACTORIES[request.param]


def test_is_a_forecaster() -> None:
    assert isinstance(Mstl([SEASON]), Forecaster)
    assert Mstl([SEASON]).alias == "mstl"


def test_needs_two_cycles_of_the_shortest_period(factory: Callable[[], Mstl]) -> None:
    with pytest.raises(NotEnoughHistory, match="needs 48 samples, got 47"):
        factory().fit(_series()[: 2 * SEASON - 1])
    assert factory().fit(_series()[: 2 * SEASON]).predict(3).mean.shape == (3,)


def test_predict_before_fit_and_bad_arguments_are_rejected() -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        Mstl([SEASON]).predict(3)
    model = Mstl([SEASON]).fit(_series())
    with pytest.raises(ValueError, match="horizon"):
        model.predict(0)
    with pytest.raises(ValueError, match="quantile"):
        model.predict(3, [1.0])
    with pytest.raises(ValueError, match="periods"):
        Mstl([])
    with pytest.raises(ValueError, match="periods"):
        Mstl([1, SEASON])
    with pytest.raises(ValueError, match="remainder"):
        Mstl([SEASON], remainder="prophet")  # type: ignore[arg-type]


@pytest.mark.parametrize(("n", "kept"), [(5 * SEASON, (SEASON,)), (6 * SEASON, (SEASON, 3 * SEASON))],
                         ids=["long_period_dropped", "two_cycles_kept"])
def test_periods_longer_than_half_the_series_are_dropped(n: int, kept: tuple[int, ...]) -> None:
    # Given unsorted and duplicated: the model sorts them and keeps a period with two whole cycles.
    model = Mstl([3 * SEASON, SEASON, SEASON]).fit(_series(n))
    assert model.fitted_periods == kept


@pytest.mark.parametrize("remainder", ["ets", "arima"])
def test_daily_sine_is_forecast_a_day_ahead(remainder: str) -> None:
    y = _series(WEEK + DAY, seed=3, period=DAY, noise=0.2)
    fc = Mstl([DAY], remainder=remainder).fit(y[:WEEK]).predict(DAY)  # type: ignore[arg-type]
    # Amplitude 20: within 5 % of it over the whole next day.
    assert np.mean(np.abs(fc.mean - y[WEEK:])) < 0.05 * 20


def test_weekly_period_catches_the_weekend() -> None:
    # Two weeks end on a Sunday; the next day is a Monday, 15 units above the weekend.
    y = _weekly(2 * WEEK + DAY)
    train, actual = y[: 2 * WEEK], y[2 * WEEK:]
    daily = Mstl([DAY]).fit(train).predict(DAY).mean
    weekly = Mstl([DAY, WEEK]).fit(train).predict(DAY).mean
    mae_daily, mae_weekly = np.mean(np.abs(daily - actual)), np.mean(np.abs(weekly - actual))
    assert mae_weekly < 0.3 * mae_daily
    assert mae_weekly < 3.0


def test_band_widens_when_noise_grows() -> None:
    quiet = Mstl([SEASON]).fit(_series(noise=1.0)).predict(SEASON, [0.5, 0.9])
    noisy = Mstl([SEASON]).fit(_series(noise=4.0)).predict(SEASON, [0.5, 0.9])
    gap_quiet = np.mean(quiet.quantile(0.9) - quiet.quantile(0.5))
    gap_noisy = np.mean(noisy.quantile(0.9) - noisy.quantile(0.5))
    assert gap_noisy > 2.5 * gap_quiet


def test_band_widens_with_horizon_when_the_level_wanders() -> None:
    # A random-walk level under the season: the k-step error grows with k; white noise alone does not.
    rng = np.random.default_rng(5)
    walk = _series(20 * SEASON, noise=1.0) + np.cumsum(rng.normal(0, 1.5, 20 * SEASON))
    wandering = Mstl([SEASON]).fit(walk).predict(2 * SEASON, [0.5, 0.9])
    gap = wandering.quantile(0.9) - wandering.quantile(0.5)
    assert gap[-1] > 2 * gap[0]
    steady = Mstl([SEASON]).fit(_series(20 * SEASON)).predict(2 * SEASON, [0.5, 0.9])
    gap = steady.quantile(0.9) - steady.quantile(0.5)
    assert gap[-1] < 1.3 * gap[0]


def _daily(n: int, seed: int) -> FloatArray:
    return _series(n, seed=seed, period=DAY, noise=3.0)


@pytest.mark.parametrize(("periods", "days", "make"), [((DAY,), 7, _daily), ((DAY, WEEK), 14, _weekly)],
                         ids=["daily_7d", "weekly_14d"])
def test_upper_quantile_covers_held_out_data(periods: tuple[int, ...], days: int,
                                             make: Callable[[int, int], FloatArray]) -> None:
    # Stationary noise around the season(s): the 0.9 path should hold ~90 % of the next day. With
    # two weekly cycles the seasonal estimates carry half the noise; the leverage correction covers it.
    n = days * DAY
    hits = []
    for seed in range(3):  # bounded: three held-out days
        y = make(n + DAY, seed)
        fc = Mstl(periods).fit(y[:n]).predict(DAY, [0.9])
        hits.append(np.mean(y[n:] <= fc.quantile(0.9)))
    assert 0.8 <= np.mean(hits) <= 0.97


@pytest.mark.parametrize(("n", "period", "window"), [(7 * SEASON, SEASON, 11), (20 * SEASON, SEASON, 11),
                                                     (2 * 5 * SEASON, 5 * SEASON, 15)],
                         ids=["7_cycles", "20_cycles", "2_cycles"])
def test_self_weights_match_stl(n: int, period: int, window: int) -> None:
    # STL (non-robust) is linear: an impulse's own seasonal value is its weight in its own estimate.
    cycles = n // period
    expected = _self_weights(cycles, window)
    for j in range(cycles):  # bounded: one impulse per cycle
        impulse = np.zeros(n)
        t = j * period + period // 3
        impulse[t] = 1.0
        seasonal = STL(impulse, period=period, seasonal=window, seasonal_deg=0).fit().seasonal
        assert seasonal[t] == pytest.approx(expected[j], abs=0.01)
