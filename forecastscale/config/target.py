"""``targets[]``: one scaled workload, in sections (config format 2):

* ``workload`` — the ``apps/v1`` object ``run`` scales, what one replica (pod) is and what demand it serves;
* ``scaling`` — replica bounds and the HPA-style rules (:mod:`forecastscale.config.scaling`);
* ``forecast`` — the forecaster (:mod:`forecastscale.config.forecast`), ``guardrail`` — its live shadow scoring
  and fallback (:mod:`forecastscale.config.guardrail`);
* ``queries`` — the target's own PromQL templates (:mod:`forecastscale.config.queries`);
* ``scheduling`` — where its pods may run and its weight in a full pool (:mod:`forecastscale.config.scheduling`);
* ``events`` — recurring (cron) replica floors (:mod:`forecastscale.config.events`);
* ``backtest`` — the trace replayed for it.

The flat form of before (``capacity_per_replica`` beside ``name``) is refused with the new place of every key
(:mod:`forecastscale.config.migration`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from forecastscale.config.backtest import RegimeChange
from forecastscale.config.base import _Model
from forecastscale.config.events import EventSettings
from forecastscale.config.forecast import ForecastSettings
from forecastscale.config.guardrail import GuardrailSettings
from forecastscale.config.leadtimes import LeadSettings
from forecastscale.config.queries import Queries
from forecastscale.config.scaling import ScalingSettings
from forecastscale.config.scheduling import SchedulingSettings
from forecastscale.config.slo import SloSettings


class WorkloadSettings(_Model):
    """The workload ``run`` scales (its ``scale`` subresource), what one replica is and what demand it serves."""

    kind: Literal["Deployment", "StatefulSet"] = Field(default="Deployment", description="apps/v1 kind scaled")
    name: str = Field(min_length=1, description="the Deployment or StatefulSet; default: the target's name")
    namespace: str = Field(default="default", min_length=1, description="its namespace")
    capacity_per_replica: float = Field(gt=0, description="demand (in demand_unit) one ready replica serves at 100 %")
    demand_unit: str = Field(default="requests_per_s", min_length=1, description="unit of demand, e.g. tokens_per_s")
    demand_scale: float = Field(default=1.0, gt=0, description="the demand series (backtest.trace, or queries.demand "
                                "live) × this = demand in demand_unit")
    pod_startup_s: float = Field(default=180, ge=0, description="seconds from a scale-up decision to a Ready replica")
    lead: LeadSettings = Field(default_factory=LeadSettings, description="learn the pod and node lead times from "
                               "what is measured (pod_startup_s and the pool's node_startup_s stay the prior)")
    gpus_per_pod: int = Field(default=1, gt=0, description="GPUs one replica requests")
    cpu: float = Field(default=0.0, ge=0, description="cores requested per pod (node-pool bin-packing)")
    memory_gib: float = Field(default=0.0, ge=0, description="GiB requested per pod (node-pool bin-packing)")
    max_wait_s: float = Field(default=60, ge=0, description="seconds a queued request waits before it is dropped")
    alternatives: tuple[Alternative, ...] = Field(default=(), description="other accelerators, in order of "
                                                  "preference, that take the unmet need while the own pool is "
                                                  "stocked out")

    @model_validator(mode="after")
    def _alternatives_named(self) -> WorkloadSettings:
        pools = [a.pool for a in self.alternatives]
        if dups := sorted({p for p in pools if pools.count(p) > 1}):
            raise ValueError(f"alternatives: pool {dups[0]!r} listed twice (one alternative per pool)")
        named = tuple(a if a.name else a.model_copy(update={"name": f"{self.name}-{a.pool}"})
                      for a in self.alternatives)
        if self.name in (names := [a.name for a in named]) or len(set(names)) < len(names):
            raise ValueError(f"alternatives: workload names {names} must differ from each other and from "
                             f"{self.name!r}")
        object.__setattr__(self, "alternatives", named)  # frozen model: defaults filled once, at validation
        return self


class Alternative(_Model):
    """Another accelerator the target's demand may be served on while its own pool is stocked out: its own
    Deployment or StatefulSet (same kind and namespace; the usual one-per-accelerator pattern, e.g. ``chat-a100``)
    on node pool ``pool``, with its own pod shape and capacity."""

    pool: str = Field(min_length=1, description="a node pool other than the target's own")
    capacity_per_replica: float = Field(gt=0, description="demand (in demand_unit) one ready replica there serves")
    gpus_per_pod: int = Field(default=1, gt=0, description="GPUs one replica there requests")
    name: str = Field(default="", description="its Deployment/StatefulSet; default: the workload's name-<pool>")
    cpu: float | None = Field(default=None, ge=0, description="cores per pod; default: the workload's")
    memory_gib: float | None = Field(default=None, ge=0, description="GiB per pod; default: the workload's")
    pod_startup_s: float | None = Field(default=None, ge=0, description="seconds to a Ready replica; default: the "
                                        "workload's")


class TargetBacktest(_Model):
    """What ``forecastscale backtest`` replays for the target."""

    trace: Path | None = Field(default=None, description="timestamp,value CSV, relative to the config")
    regime_change: RegimeChange | None = Field(default=None, description="replay the trace shifted in time and/or "
                                               "scaled from a point on (synthetic; the CSV is unchanged)")


class Target(_Model):
    """One scaled workload (a Deployment of GPU model servers)."""

    name: str = Field(min_length=1, description="names the target in decisions, metrics, plans and events")
    workload: WorkloadSettings
    scaling: ScalingSettings
    forecast: ForecastSettings = Field(default_factory=ForecastSettings)
    queries: Queries = Field(default_factory=Queries, description="own PromQL; unset ones: service.queries")
    scheduling: SchedulingSettings = Field(default_factory=SchedulingSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    backtest: TargetBacktest = Field(default_factory=TargetBacktest)
    slo: SloSettings | None = Field(default=None, description="hold this service level at least cost (the "
                                    "predictive margin is calibrated online); unset: forecast.quantile and "
                                    "scaling.target_utilisation decide")
    guardrail: GuardrailSettings = Field(default_factory=GuardrailSettings, description="score the forecast live "
                                         "against seasonal-naive and persistence shadows; fall back while it is worse")

    @model_validator(mode="before")
    @classmethod
    def _workload_named_like_target(cls, data: Any) -> Any:
        # Without a workload.name, run scales the Deployment named like the target (as before format 2).
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            return data
        workload = data.get("workload")
        if isinstance(workload, dict) and "name" not in workload:
            return {**data, "workload": {**workload, "name": data["name"]}}
        return data
