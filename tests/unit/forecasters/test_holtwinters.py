"""Holt-Winters' history minimum: short seasons need statsmodels' 10 + 2·⌊season/2⌋ samples, not two seasons."""

from __future__ import annotations

import numpy as np
import pytest

from forecastscale.errors import NotEnoughHistory
from forecastscale.forecasters.holtwinters import HoltWinters


@pytest.mark.parametrize(("season", "need"), [(2, 12), (5, 14), (9, 18), (10, 20), (24, 48)],
                         ids=["2-steps", "5-steps", "9-steps", "10-steps", "24-steps"])
def test_too_short_a_history_is_not_enough_history_and_the_minimum_fits(season: int, need: int) -> None:
    y = 50 + 10 * np.sin(2 * np.pi * np.arange(need) / season)
    with pytest.raises(NotEnoughHistory, match=f"needs {need} samples, got {need - 1}"):
        HoltWinters(season).fit(y[:-1])  # was statsmodels' ValueError: a live refit crashed (5-min season, 1-min steps)
    assert np.isfinite(HoltWinters(season).fit(y).predict(3, [0.9]).mean).all()
