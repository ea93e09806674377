"""``targets[].guardrail``: score the forecast live against two shadows, and fall back while it is worse.

Every tick the predictive policy scores the forecast it made one pod lead time ago, at ``forecast.quantile``,
against what arrived — next to two shadow forecasters that need no fit: ``seasonal_naive`` (the demand one
``forecast.season_s`` ago) and ``persistence`` (the last demand), each with an upper quantile of its own
recent errors. When the model's rolling pinball loss is worse than the best shadow's by ``margin``, or its
upper quantile covers badly (coverage below ``forecast.quantile − coverage_slack``), the target provisions
from that shadow (or, with no shadow better, reactively with ``reactive_margin``) until the model has been
good again for ``hold_s`` (:mod:`forecastscale.policy.guardrail`).

The defaults are conservative on purpose. One pod lead ahead, persistence is hard to beat on a smooth trace,
yet the model's worth is the ramps it sees coming, which a shadow (like the HPA floor) only follows: on the
bundled traces' ordinary weeks the model's 6-hour pinball loss stays within 1.3× the best shadow's on ELB,
2× on Twitter and mostly 2.4× on NYC taxi, so a margin of 1 (twice as bad) and a 6-hour hold switch on a
broken forecast, not on noise.

Off by default: it changes what an existing config decides and, where the model is sound, a shadow standing
in for it after a bad spell gives back the ramps it foresaw — turn it on where demand can shift under the
model (an outage, a storm, a new tenant); ``benchmarks/guardrail.py`` shows what it cuts and what it costs.
"""

from __future__ import annotations

from pydantic import Field

from forecastscale.config.base import _Model


class GuardrailSettings(_Model):
    """Live shadow scoring of the forecast, and when to fall back from it and return to it."""

    enabled: bool = Field(default=False, description="score the forecast against the shadows and fall back while "
                                                     "it is worse (off: the model's forecast is always used)")
    window_s: float = Field(default=21600, gt=0, le=30 * 86400, description="seconds the rolling pinball loss and "
                                                                           "coverage average over (exponentially)")
    error_window_s: float = Field(default=21600, gt=0, le=7 * 86400, description="seconds of a shadow's own past "
                                  "errors whose empirical quantile makes its upper quantile")
    margin: float = Field(default=1.0, ge=0, le=10, description="fall back when the model's pinball loss exceeds "
                                                                 "the best shadow's × (1 + margin)")
    coverage_slack: float = Field(default=0.2, gt=0, lt=1, description="fall back when the model's coverage of "
                                  "forecast.quantile drops below forecast.quantile − this (0–1)")
    hold_s: float = Field(default=21600, ge=0, description="seconds the model must be good again (within the margin, "
                                                          "covering) before it is used again")
    min_samples: int = Field(default=30, ge=1, le=100_000, description="scored steps the model and a shadow need "
                                                                      "before any switch")
    reactive_margin: float = Field(default=0.25, ge=0, le=10, description="no shadow better than the model: "
                                   "provision for the last demand × (1 + this)")
