"""HPA v2 ``metrics`` for a target (``scaling.metrics``): several metrics at once, each with a target; the largest wins.

Written as an ``autoscaling/v2`` HorizontalPodAutoscaler would be (snake_case), e.g.::

    metrics:
      - type: demand            # demand per replica, against workload.capacity_per_replica
        target: {type: Utilization, average_utilization: 70}
      - type: queue             # requests waiting, per replica
        target: {type: AverageValue, average_value: 4}
      - type: gpu_utilisation   # DCGM GPU utilisation (%) averaged over ready pods
        target: {type: Utilization, average_utilization: 80}
      - type: kv_cache          # KV cache in use (%, e.g. vLLM's 0–1 usage × 100) averaged over ready pods
        target: {type: Utilization, average_utilization: 85}

A target that lists none scales on demand at its ``scaling.target_utilisation`` (the HPA of issue 3).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from forecastscale.config.base import _Model

MetricType = Literal["demand", "queue", "gpu_utilisation", "kv_cache"]
# Which target types make sense for each metric (the HPA accepts only some per source, too).
ALLOWED: dict[str, tuple[str, ...]] = {
    "demand": ("Utilization", "AverageValue"),
    "queue": ("AverageValue",),
    "gpu_utilisation": ("Utilization",),
    "kv_cache": ("Utilization",),
}


class MetricTarget(_Model):
    """``autoscaling/v2`` ``MetricTarget``: a utilisation in % or an average value per replica."""

    type: Literal["Utilization", "AverageValue"]
    average_utilization: int | None = Field(default=None, gt=0, le=100, description="percent")
    average_value: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="per replica")

    @model_validator(mode="after")
    def _value_for_type(self) -> MetricTarget:
        field = "average_utilization" if self.type == "Utilization" else "average_value"
        other = "average_value" if self.type == "Utilization" else "average_utilization"
        if getattr(self, field) is None:
            raise ValueError(f"type {self.type} needs {field}")
        if getattr(self, other) is not None:
            raise ValueError(f"type {self.type} takes {field}, not {other}")
        return self


class MetricRule(_Model):
    """One metric and its target (``autoscaling/v2`` ``MetricSpec``)."""

    type: MetricType
    target: MetricTarget

    @model_validator(mode="after")
    def _allowed(self) -> MetricRule:
        if self.target.type not in ALLOWED[self.type]:
            raise ValueError(f"metric {self.type} takes target type {' or '.join(ALLOWED[self.type])}, "
                             f"got {self.target.type}")
        return self
