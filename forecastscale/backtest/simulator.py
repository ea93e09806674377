"""A deterministic GPU cluster: pods wait for nodes, start, serve; nodes start and stop.

Time advances in decision steps; lead times count from the decision step that caused them.

* Pods requested at ``t`` bind at once if a ready node has free GPUs, else stay pending
  until one does; a bound pod is ready ``pod_startup_s`` after binding.
* Nodes requested at ``t`` are ready at ``t + node_startup_s``.
* Scale-down frees GPUs at once, removing pending pods first, then starting pods (newest
  first), then ready pods, as a ReplicaSet does.
* Nodes are removed only when empty: starting nodes first, then ready nodes whose pods fit
  on the others (the scheduler is assumed to pack pods onto as few nodes as possible).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from forecastscale.config import NodePool, Target
from forecastscale.policy.nodes import pods_per_node


@dataclass(frozen=True)
class ClusterView:
    """Counts after a step: pods by phase, nodes by phase."""

    replicas: int
    ready: int
    starting: int
    pending: int
    nodes_ready: int
    nodes_starting: int


class ClusterSimulator:
    """One target's pods on one node pool; ``apply`` each step, then read :meth:`view`."""

    def __init__(self, target: Target, pool: NodePool, replicas: int, nodes: int) -> None:
        self.pod_startup_s = target.pod_startup_s
        self.node_startup_s = pool.node_startup_s
        self.k = pods_per_node(pool, target.gpus_per_pod)
        self.gpus_per_node = pool.gpus_per_node
        self.nodes_ready = nodes
        self.nodes_starting: deque[float] = deque()  # ready times, oldest request first
        self.pods_ready = min(replicas, nodes * self.k)
        self.pods_starting: deque[float] = deque()  # ready times, oldest bind first
        self.pods_pending = replicas - self.pods_ready

    def advance(self, t: float) -> None:
        """Promote nodes and pods whose start-up has finished by ``t``; bind pending pods."""
        while self.nodes_starting and self.nodes_starting[0] <= t:
            self.nodes_starting.popleft()
            self.nodes_ready += 1
        self._bind(t)
        while self.pods_starting and self.pods_starting[0] <= t:
            self.pods_starting.popleft()
            self.pods_ready += 1

    def _bind(self, t: float) -> None:
        free = self.nodes_ready * self.k - self.pods_ready - len(self.pods_starting)
        n = min(free, self.pods_pending)
        if n > 0:
            self.pods_pending -= n
            self.pods_starting.extend([t + self.pod_startup_s] * n)

    @property
    def replicas(self) -> int:
        """spec.replicas: every pod that exists, in any phase."""
        return self.pods_ready + len(self.pods_starting) + self.pods_pending

    def _scale_pods(self, replicas: int) -> None:
        diff = replicas - self.replicas
        if diff >= 0:
            self.pods_pending += diff
            return
        remove = -diff
        cut = min(remove, self.pods_pending)
        self.pods_pending -= cut
        remove -= cut
        while remove and self.pods_starting:
            self.pods_starting.pop()
            remove -= 1
        self.pods_ready -= remove

    def _scale_nodes(self, nodes: int, t: float) -> None:
        total = self.nodes_ready + len(self.nodes_starting)
        if nodes > total:
            self.nodes_starting.extend([t + self.node_startup_s] * (nodes - total))
            return
        remove = total - nodes
        while remove and self.nodes_starting:
            self.nodes_starting.pop()
            remove -= 1
        bound = self.pods_ready + len(self.pods_starting)
        idle = (self.nodes_ready * self.k - bound) // self.k
        self.nodes_ready -= min(remove, idle)

    def apply(self, t: float, replicas: int, nodes: int) -> None:
        """Carry out a decision made at ``t``: pods first (frees GPUs), then nodes, then bind."""
        self._scale_pods(replicas)
        self._scale_nodes(nodes, t)
        self.advance(t)  # zero start-up times take effect in the same step

    def view(self) -> ClusterView:
        """The current counts."""
        return ClusterView(
            replicas=self.replicas,
            ready=self.pods_ready,
            starting=len(self.pods_starting),
            pending=self.pods_pending,
            nodes_ready=self.nodes_ready,
            nodes_starting=len(self.nodes_starting),
        )

    @property
    def provisioned_gpus(self) -> int:
        """GPUs paid for now: every node, ready or starting."""
        return (self.nodes_ready + len(self.nodes_starting)) * self.gpus_per_node
