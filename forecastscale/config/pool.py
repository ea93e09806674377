"""``node_pools[]``: pools of identical GPU nodes the targets' pods are bin-packed onto, and how ``run``
changes a pool's node count (a Cluster API MachineDeployment, or headroom pods for a node autoscaler)."""

from __future__ import annotations

from pydantic import Field, model_validator

from forecastscale.config.base import _Model
from forecastscale.config.scheduling import BalloonSettings, HealthSettings, TaintSpec


class ObjectRef(_Model):
    """A namespaced Kubernetes object by name."""

    name: str = Field(min_length=1)
    namespace: str = Field(default="default", min_length=1)


class NodePool(_Model):
    """A pool of identical GPU nodes."""

    name: str = Field(min_length=1)
    gpus_per_node: int = Field(gt=0)
    node_startup_s: float = Field(default=420, ge=0, description="node request → node Ready")
    min_nodes: int = Field(default=0, ge=0)
    max_nodes: int = Field(gt=0)
    gpu_hour_cost: float = Field(default=0.0, ge=0, description="price of one GPU for one hour")
    scale_down_unneeded_s: float = Field(
        default=600, ge=0, description="reactive: a node is removed after this long unneeded"
    )
    machine_deployment: ObjectRef | None = Field(
        default=None, description="run: the Cluster API MachineDeployment whose replicas are this pool's nodes"
    )
    balloon: BalloonSettings | None = Field(
        default=None, description="run: reserve the pool's spare nodes with low-priority headroom pods instead"
    )
    cpu_per_node: float = Field(default=1e6, gt=0, description="allocatable cores per node (default: not binding)")
    memory_gib_per_node: float = Field(default=1e6, gt=0, description="allocatable GiB per node (not binding)")
    labels: dict[str, str] = Field(default_factory=dict, description="node labels, for selectors and affinity")
    taints: tuple[TaintSpec, ...] = ()
    headroom_nodes: int = Field(default=0, ge=0, description="spare nodes kept on top of the bin-packed need")
    stockout_factor: float = Field(default=3.0, ge=1, description="nodes asked for and none Ready after this × "
                                   "the pool's node lead (node_startup_s): the pool is stocked out")
    health: HealthSettings = Field(default_factory=HealthSettings)

    @model_validator(mode="after")
    def _bounds(self) -> NodePool:
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"min_nodes ({self.min_nodes}) > max_nodes ({self.max_nodes})")
        if self.machine_deployment is not None and self.balloon is not None:
            raise ValueError("set one node backend: machine_deployment or balloon, not both")
        if self.health.enabled and not self.labels:
            raise ValueError("health.enabled needs the pool's labels (they select its nodes; without them "
                             "every node of the cluster would count)")
        return self
