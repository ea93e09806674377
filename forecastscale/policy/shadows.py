"""The shadow forecasters the guardrail holds the model to (pure, no fit): on the demand per decision step,

* ``persistence`` — every step ahead is the last completed step's demand;
* ``seasonal_naive`` — step ``j`` is the demand one season earlier (``j − season``).

A shadow's upper quantile is its point forecast plus the empirical quantile of its own errors (demand − point)
over the last ``guardrail.error_window_s``, at the lag its forecast spans: ``h + 1`` steps for persistence
``h`` steps ahead, one season for seasonal naive. That is split-conformal prediction in its plainest form, on
a short rolling window so that the band follows the regime; it is recomputed from the demand history every
tick, so there is no state to keep or persist. With an SLO the calibrated margin is read as the quantile level
it amounts to (:func:`~forecastscale.policy.calibration.level`), taken from the shadow's own errors.

Steps are relative to the history ``y``: ``y[-1]`` is the last completed step, "``h`` ahead" is step
``len(y) + h`` (``h = 0``: the step being decided).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecastscale.types import FloatArray

SHADOWS = ("seasonal_naive", "persistence")
MIN_ERRORS = 10  # errors a shadow needs before its quantile means anything: fewer, and it does not forecast


@dataclass(frozen=True)
class Shadows:
    """Both shadows for one target: its season and error window (decision steps) and its quantile (0–1)."""

    season: int
    window: int
    quantile: float

    def lag(self, name: str, ahead: int) -> int:
        """Steps between a shadow's newest input and the furthest step it forecasts (``ahead`` steps ahead)."""
        return ahead + 1 if name == "persistence" else self.season

    def band(self, y: FloatArray, lag: int, level: float | None = None) -> float | None:
        """What the point forecast is raised by (demand units/s): the ``level`` quantile (default: the target's
        quantile) of the last errors at ``lag``; None with too few errors."""
        n = len(y)
        if n < lag + MIN_ERRORS:
            return None
        lo = max(lag, n - self.window)
        errors = y[lo:] - y[lo - lag: n - lag]
        return float(np.quantile(errors, self.quantile if level is None else level))

    def points(self, name: str, y: FloatArray, ahead: int) -> FloatArray | None:
        """Point forecasts for ``0 … ahead`` steps ahead; None if the history cannot say (too short, or a season
        no longer than the look-ahead)."""
        n = len(y)
        if name == "persistence":
            return np.full(ahead + 1, float(y[-1])) if n else None
        if self.season <= ahead or n < self.season:
            return None
        out: FloatArray = y[n - self.season: n - self.season + ahead + 1]
        return out

    def window_max(self, name: str, y: FloatArray, ahead: int, level: float | None = None) -> float | None:
        """Highest upper forecast (at ``level``, default the target's quantile) over ``0 … ahead`` steps ahead
        (demand units/s, ≥ 0); None if unavailable."""
        points, band = self.points(name, y, ahead), self.band(y, self.lag(name, ahead), level)
        if points is None or band is None:
            return None
        return max(0.0, float(points.max()) + band)

    def upper_at(self, name: str, y: FloatArray, ahead: int) -> float | None:
        """The upper-quantile forecast for exactly ``ahead`` steps ahead (what is scored); None if unavailable."""
        points, band = self.points(name, y, ahead), self.band(y, self.lag(name, ahead))
        if points is None or band is None:
            return None
        return max(0.0, float(points[-1]) + band)
