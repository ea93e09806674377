"""Where a target's pods may run and how a pool gets its nodes: Kubernetes scheduling terms, snake_case.

A target's pods carry ``workload.cpu``/``workload.memory_gib`` requests and, in its ``scheduling:`` section
(:class:`SchedulingSettings`), a ``node_selector``, required node ``affinity`` (one term, requirements ANDed)
and ``tolerations``; a pool's nodes carry allocatable ``cpu_per_node``/``memory_gib_per_node``, ``labels`` and
``taints``. Node-pool sizing
bin-packs the planned pods into the pools they may run on (:mod:`forecastscale.policy.binpack`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from forecastscale.config.base import _Model

Effect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class TaintSpec(_Model):
    """A node taint (``v1.Taint``)."""

    key: str = Field(min_length=1)
    value: str = ""
    effect: Effect = "NoSchedule"


class TolerationSpec(_Model):
    """A pod toleration (``v1.Toleration``); an empty key with ``Exists`` tolerates every taint."""

    key: str = ""
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str = ""
    effect: Effect | None = None

    @model_validator(mode="after")
    def _valid(self) -> TolerationSpec:
        # The API server's own validation: these two would be rejected in a PodSpec.
        if self.operator == "Exists" and self.value:
            raise ValueError(f"operator Exists takes no value, got {self.value!r}")
        if self.operator == "Equal" and not self.key:
            raise ValueError("operator Equal needs a key")
        return self


class NodeSelectorRequirementSpec(_Model):
    """One ``requiredDuringSchedulingIgnoredDuringExecution`` match expression."""

    key: str = Field(min_length=1)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _values(self) -> NodeSelectorRequirementSpec:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs values")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values, got {list(self.values)}")
        return self


class BalloonSettings(_Model):
    """Headroom ("balloon") pods: a low-priority Deployment whose pods Cluster Autoscaler or Karpenter
    turns into nodes ahead of demand; real pods preempt them."""

    namespace: str = Field(default="default", min_length=1)
    name: str | None = Field(default=None, description="Deployment name; default forecastscale-balloon-<pool>")
    priority_class: str = Field(default="forecastscale-balloon", min_length=1)
    priority_value: int = Field(default=-10, lt=0, description="negative: any real pod preempts a balloon")
    image: str = Field(default="registry.k8s.io/pause:3.10", min_length=1)


class HealthSettings(_Model):
    """Health-aware capacity for a pool: read its nodes (by its ``labels``) every tick; NotReady or
    cordoned nodes and unhealthy GPUs are not counted as capacity, and replacement nodes are planned."""

    enabled: bool = Field(default=False, description="list the pool's nodes (needs get/list on nodes)")
    fail_threshold: int = Field(default=2, ge=1, description="failures within window_s that quarantine a GPU")
    window_s: float = Field(default=3600, gt=0, description="how long a failure is remembered")
    quarantine_s: float = Field(default=1800, ge=0, description="healthy this long before a quarantined GPU "
                                                                 "counts again")


class SchedulingSettings(_Model):
    """A target's ``scheduling:`` section: the pool its pods run on, where on it, and its weight when full."""

    node_pool: str | None = Field(default=None, description="pool name; optional with one pool")
    node_selector: dict[str, str] = Field(default_factory=dict, description="node labels a pod requires")
    affinity: tuple[NodeSelectorRequirementSpec, ...] = Field(default=(), description="required node affinity")
    tolerations: tuple[TolerationSpec, ...] = Field(default=(), description="taints of a pool's nodes the pods "
                                                     "tolerate")
    share: float = Field(default=1.0, gt=0, description="weight when a full pool is shared (× unmet demand, after "
                         "every target's scaling.min_replicas)")
