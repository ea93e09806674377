"""``targets[].slo``: state the service level, not the knobs.

With an SLO the predictive policy provisions for the forecast at a *margin* it calibrates online
(:mod:`forecastscale.policy.calibration`) so that the SLO measured over ``window_s`` tracks
``target``; ``forecast.quantile`` and ``scaling.target_utilisation`` then no longer set the
forecast's margin (the quantile only scales the band the margin is counted in). Without one, the
fixed quantile and utilisation decide, as before.

Metrics (what a step counts as missing the SLO):

* ``underprovisioned_pct`` — the share of steps whose demand exceeded the ready capacity, in %;
* ``unserved_pct`` — the share of demand beyond the ready capacity, in %;
* ``p99_wait_s`` — the 99th-percentile queueing delay, in seconds: a step misses when its estimated
  wait (requests waiting ÷ ready capacity, or the backlog the step's excess builds) exceeds ``target``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from forecastscale.config.base import _Model

SloMetric = Literal["underprovisioned_pct", "unserved_pct", "p99_wait_s"]


class SloSettings(_Model):
    """A target's service level, held at least cost by the calibrated margin."""

    metric: SloMetric = Field(description="underprovisioned_pct (% of steps), unserved_pct (% of demand) or "
                                          "p99_wait_s (seconds)")
    target: float = Field(gt=0, description="the level to hold: % for the *_pct metrics, seconds for p99_wait_s")
    window_s: float = Field(default=86400, gt=0, le=90 * 86400, description="seconds the measured SLO averages over")
    gain: float = Field(default=0.1, gt=0, le=1, description="how far one step's miss or hit moves the margin "
                                                                "(band widths per step)")
    min_margin: float = Field(default=-3.0, ge=-10, le=0, description="lowest margin, in band widths (below the "
                                                                       "median when < 0)")
    max_margin: float = Field(default=6.0, gt=0, le=20, description="highest margin, in band widths")

    def miss_rate(self) -> float:
        """The long-run share of misses the calibration aims at (0–1)."""
        return 0.01 if self.metric == "p99_wait_s" else self.target / 100.0
