"""Level shifts: found by the documented rule, corrected before fitting, spikes left alone."""

from __future__ import annotations

import numpy as np
import pytest

from forecastscale.forecasters import HoltWinters
from forecastscale.forecasters.base import correct_level_shift, level_shift
from forecastscale.types import FloatArray

SEASON = 24


def shifted(at_day: float, size: float, days: int = 8, seed: int = 2) -> FloatArray:
    rng = np.random.default_rng(seed)
    k = np.arange(days * SEASON)
    y = 80 + 20 * np.sin(2 * np.pi * k / SEASON) + rng.normal(0, 2, len(k))
    y[round(at_day * SEASON):] += size
    return y


@pytest.mark.parametrize(("at_day", "size"), [(5, -40.0), (3.5, 30.0), (7, -40.0)],
                         ids=["down-day-5", "up-mid-day-3", "down-a-day-ago"])
def test_a_lasting_shift_is_found_where_and_as_big_as_it_is(at_day: float, size: float) -> None:
    found = level_shift(shifted(at_day, size), SEASON, k=5.0)
    assert found is not None
    at, got = found
    assert at == round(at_day * SEASON) and got == pytest.approx(size, abs=3.0)


@pytest.mark.parametrize("series", [
    shifted(5, 0.0),
    np.where(np.arange(8 * SEASON) == 100, 400.0, shifted(5, 0.0)),  # one spike
    shifted(7.8, -40.0),  # 5 steps ago: too recent to tell from a dip
], ids=["no-shift", "one-spike", "too-recent"])
def test_no_shift_is_reported_without_a_lasting_one(series: FloatArray) -> None:
    assert level_shift(series, SEASON, k=5.0) is None


@pytest.mark.parametrize("at_day", [5.0, 6.5, 7.0], ids=["3-days-ago", "1.5-days-ago", "1-day-ago"])
def test_correcting_the_shift_makes_the_next_day_forecast_better(at_day: float) -> None:
    raw, fixed = [], []
    for seed in (1, 2, 3):
        y = shifted(at_day, -40.0, days=9, seed=seed)
        train, actual = y[:-SEASON], y[-SEASON:]
        corrected, found = correct_level_shift(train, SEASON, 5.0)
        assert found is not None and found[0] == round(at_day * SEASON)
        assert corrected[-1] == train[-1] and (corrected[: found[0]] < train[: found[0]]).all()
        raw.append(np.mean(np.abs(HoltWinters(SEASON).fit(train).predict(SEASON).mean - actual)))
        fixed.append(np.mean(np.abs(HoltWinters(SEASON).fit(corrected).predict(SEASON).mean - actual)))
    assert np.mean(fixed) < 0.85 * np.mean(raw), (fixed, raw)
