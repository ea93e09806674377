"""QuantileGbm: the forecaster contract, accuracy on a clean season, and calibrated quantiles."""

from __future__ import annotations

import numpy as np
import pytest

from forecastscale.errors import NotEnoughHistory
from forecastscale.forecasters import gbm
from forecastscale.forecasters.base import Forecaster
from forecastscale.forecasters.gbm import QuantileGbm, default_lags
from forecastscale.types import FloatArray

SEASON = 24
HORIZON = 12
QUANTILES = [0.1, 0.5, 0.9, 0.99]


def _series(n: int = 10 * SEASON, noise: float = 3.0, seed: int = 7, level: float = 50.0) -> FloatArray:
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    return level + 20 * np.sin(2 * np.pi * k / SEASON) + rng.normal(0, noise, n)


def _model(**kwargs: int) -> QuantileGbm:
    return QuantileGbm(SEASON, horizon=HORIZON, **kwargs)  # type: ignore[arg-type]


def test_is_a_forecaster() -> None:
    model = _model()
    assert isinstance(model, Forecaster)
    assert model.alias == "gbm"


def test_default_lags_cover_the_recent_past_and_one_season_back() -> None:
    assert default_lags(SEASON) == [1, 2, 3, 6, 12, 23, 24, 25]
    assert default_lags(2) == [1, 2, 3, 6, 12]  # season − 1 = 1 is already there; no lag 0


def test_refit_drops_the_cached_quantile_models() -> None:
    first, second = _series(seed=1), _series(seed=2, noise=8.0)
    model = _model().fit(first)
    model.predict(HORIZON, [0.9])
    refitted = model.fit(second).predict(HORIZON, [0.9])
    fresh = _model().fit(second).predict(HORIZON, [0.9])
    np.testing.assert_array_equal(refitted.quantile(0.9), fresh.quantile(0.9))


def test_needs_history_for_its_lags_and_one_season_of_origins() -> None:
    model = _model()
    assert model.min_samples == (SEASON + 1) + SEASON + HORIZON - 1
    for n in (SEASON + 3, model.min_samples - 1):
        with pytest.raises(NotEnoughHistory, match=f"gbm needs {model.min_samples} samples"):
            model.fit(_series(n))
    model.fit(_series(model.min_samples)).predict(HORIZON, [0.9])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"season_length": 0}, "season_length"),
    ({"season_length": SEASON, "horizon": 0}, "horizon"),
    ({"season_length": SEASON, "lags": [0, 1]}, "lags"),
    ({"season_length": SEASON, "max_iter": 0}, "max_iter"),
], ids=["season", "horizon", "lag-0", "max_iter"])
def test_bad_settings_are_rejected(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        QuantileGbm(**kwargs)  # type: ignore[arg-type]


def test_max_points_never_goes_below_the_history_a_fit_needs() -> None:
    model = QuantileGbm(SEASON, horizon=HORIZON, max_points=2 * SEASON)
    assert model.max_points == model.min_samples
    model.fit(_series()).predict(HORIZON, [0.9])


def test_forecasts_a_pure_sine_over_its_horizon_and_beyond() -> None:
    y = _series(12 * SEASON, noise=0.0)
    fc = _model().fit(y[: 10 * SEASON]).predict(2 * SEASON, [0.5])
    actual = y[10 * SEASON:]
    # Amplitude 20: the point forecast is exact to well under 1 %, within the horizon and beyond;
    # the shallow pinball trees of the median get within 10 %.
    assert np.max(np.abs(fc.mean[:HORIZON] - actual[:HORIZON])) < 0.05
    assert np.max(np.abs(fc.mean - actual)) < 0.05
    assert np.max(np.abs(fc.quantile(0.5)[:HORIZON] - actual[:HORIZON])) < 2.0


def test_band_widens_on_a_noisier_copy() -> None:
    def band(noise: float) -> float:
        fc = _model().fit(_series(noise=noise)).predict(HORIZON, [0.5, 0.9])
        return float(np.mean(fc.quantile(0.9) - fc.quantile(0.5)))

    quiet, noisy = band(1.0), band(5.0)
    # Gaussian noise: the 0.9 − 0.5 gap is 1.28 sd, so 5× the noise should give ~5× the band.
    assert noisy > 2.5 * quiet


def test_q90_covers_about_90_percent_of_held_out_steps() -> None:
    y = _series(30 * SEASON, noise=4.0, seed=11)
    hits = []
    for origin in range(16 * SEASON, 28 * SEASON, 37):  # 8 origins × 12 steps, phases spread out
        fc = _model().fit(y[:origin]).predict(HORIZON, [0.9])
        hits.append(y[origin: origin + HORIZON] <= fc.quantile(0.9))
    coverage = float(np.mean(hits))
    assert 0.8 <= coverage <= 0.97, coverage


def test_uses_only_the_last_max_points() -> None:
    y = _series(10 * SEASON)
    junk = np.full(37, 1e4)  # not a whole season: would also shift phases if counted from the start
    keep = 8 * SEASON
    a = _model(max_points=keep).fit(np.concatenate([junk, y])).predict(HORIZON, [0.9])
    b = _model(max_points=keep).fit(y[-keep:]).predict(HORIZON, [0.9])
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.quantile(0.9), b.quantile(0.9))


def test_thinned_origins_still_follow_the_season(monkeypatch: pytest.MonkeyPatch) -> None:
    # A row cap far below the ~2.6k rows: 41 of the 215 origins are drawn (41 × 12 steps ≤ 500 rows).
    monkeypatch.setattr(gbm, "_MAX_ROWS", 500)
    y = _series(12 * SEASON, noise=0.0)
    model = _model().fit(y[: 10 * SEASON])
    assert len(model._x) <= 500
    fc = model.predict(HORIZON)
    assert np.max(np.abs(fc.mean - y[10 * SEASON: 10 * SEASON + HORIZON])) < 1.0
