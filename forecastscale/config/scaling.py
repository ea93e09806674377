"""A target's ``scaling:`` section: how many replicas a demand calls for, and how fast the count may move.

The Kubernetes HPA v2 terms (``behavior``, ``metrics``, ``tolerance``) mean what they mean there; the
forecast's quantile and the panic mode (``burst``) sit on top of them, never below the bounds
``min_replicas`` … ``max_replicas``. ``min_replicas: 0`` lets a target scale to zero once idle and wakes it
at once on demand or a queue, and ahead of forecast demand (:mod:`forecastscale.policy.zero`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from forecastscale.config.base import _Model
from forecastscale.config.events import BurstSettings
from forecastscale.config.rules import MetricRule


class ScalingPolicy(_Model):
    """One HPA v2 ``HPAScalingPolicy``: change at most ``value`` Pods or Percent per ``period_seconds``."""

    type: Literal["Pods", "Percent"]
    value: int = Field(gt=0)
    period_seconds: int = Field(gt=0, le=1800)


class ScalingRules(_Model):
    """HPA v2 ``HPAScalingRules`` for one direction (scale up or scale down); windows in seconds."""

    stabilization_window_seconds: int = Field(ge=0, le=3600)
    select_policy: Literal["Max", "Min", "Disabled"] = "Max"
    policies: tuple[ScalingPolicy, ...]


def _default_scale_up() -> ScalingRules:
    # Kubernetes default: no stabilisation, max(+4 pods, +100 %) every 15 s.
    return ScalingRules(
        stabilization_window_seconds=0,
        policies=(
            ScalingPolicy(type="Pods", value=4, period_seconds=15),
            ScalingPolicy(type="Percent", value=100, period_seconds=15),
        ),
    )


def _default_scale_down() -> ScalingRules:
    # Kubernetes default: recommendations stabilised over 300 s, then down to any count.
    return ScalingRules(
        stabilization_window_seconds=300,
        policies=(ScalingPolicy(type="Percent", value=100, period_seconds=15),),
    )


class Behavior(_Model):
    """HPA v2 ``behavior``; the defaults are those of Kubernetes."""

    scale_up: ScalingRules = Field(default_factory=_default_scale_up)
    scale_down: ScalingRules = Field(default_factory=_default_scale_down)


class ScalingSettings(_Model):
    """Replica bounds and the HPA-style rules that turn demand (in the workload's ``demand_unit``) into replicas."""

    target_utilisation: float = Field(default=0.7, gt=0, le=1, description="HPA target: demand / capacity, (0, 1]")
    tolerance: float = Field(default=0.1, ge=0, lt=1, description="HPA tolerance: no change within ± this ratio")
    min_replicas: int = Field(default=1, ge=0, description="never fewer replicas (pods); 0: scale to zero once idle "
                                                           "for idle_s, woken at once or ahead of forecast demand")
    idle_s: float = Field(default=300, ge=0, description="min_replicas 0: seconds demand (and the queue) must have "
                                                         "been 0 before the last replica goes (KEDA's cooldownPeriod)")
    wake_fraction: float = Field(default=0.1, gt=0, le=1, description="min_replicas 0: a forecast below this share "
                                 "of one replica's capacity_per_replica counts as no demand (0–1)")
    max_replicas: int = Field(gt=0, description="never more replicas (pods)")
    behavior: Behavior = Field(default_factory=Behavior, description="HPA v2 scale-up/scale-down rate limits")
    metrics: tuple[MetricRule, ...] = Field(
        default=(), description="HPA v2 metrics (largest recommendation wins); default: demand at target_utilisation"
    )
    fallback_replicas: int | None = Field(
        default=None, ge=0, description="run: replicas floor after service.fallback_after_ticks failed ticks"
    )
    burst: BurstSettings = Field(default_factory=BurstSettings, description="panic mode on a demand surprise")

    @model_validator(mode="after")
    def _bounds(self) -> ScalingSettings:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) > max_replicas ({self.max_replicas})")
        return self
