"""Node-pool sizing as the scheduler would place pods: predicates, then first-fit decreasing.

Like cluster-autoscaler's binpacking estimator: a pod may go to a pool only if the pool's
labels satisfy its node selector and required node affinity, the pod tolerates the pool's
NoSchedule/NoExecute taints, and it fits an empty node. Pods are then placed largest first
(GPUs, then CPU, then memory) on the first node with room, existing nodes before new ones.
Units: GPUs (whole devices), CPU in cores, memory in GiB. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

TaintEffect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]
# PreferNoSchedule is a scoring hint: the scheduler's TaintToleration filter ignores it.
_BLOCKING: frozenset[str] = frozenset({"NoSchedule", "NoExecute"})


@dataclass(frozen=True)
class Taint:
    """A node taint, ``key=value:effect``."""

    key: str
    value: str = ""
    effect: TaintEffect = "NoSchedule"

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"


@dataclass(frozen=True)
class Toleration:
    """A pod toleration; ``effect=None`` matches every effect, empty ``key`` + Exists every key."""

    key: str = ""
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str = ""
    effect: TaintEffect | None = None

    def __post_init__(self) -> None:
        # The API server's validation (ValidateTolerations), so that matching below stays Kubernetes'.
        if not self.key and self.operator != "Exists":
            raise ValueError("toleration: an empty key needs operator Exists")
        if self.operator == "Exists" and self.value:
            raise ValueError(f"toleration {self.key}: operator Exists takes no value, got {self.value!r}")

    def tolerates(self, taint: Taint) -> bool:
        """Kubernetes ``Toleration.ToleratesTaint``: effect, then key, then operator/value."""
        if self.effect is not None and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        return self.operator == "Exists" or self.value == taint.value


@dataclass(frozen=True)
class NodeSelectorRequirement:
    """One ``matchExpressions`` entry of required node affinity."""

    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.operator in ("In", "NotIn")) != bool(self.values):
            raise ValueError(f"affinity {self.key}: {self.operator} takes {'values' if not self.values else 'none'}")

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a node with ``labels`` satisfies this requirement (absent label: NotIn holds)."""
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        inside = self.key in labels and labels[self.key] in self.values
        return inside if self.operator == "In" else not inside

    def __str__(self) -> str:
        return f"{self.key} {self.operator} ({','.join(self.values)})" if self.values else f"{self.key} {self.operator}"


@dataclass(frozen=True)
class PoolShape:
    """A pool of identical nodes: per-node GPUs, cores and GiB, labels, taints, node bounds.

    ``headroom_nodes`` spare nodes are kept on top of what the pods need (never above ``max_nodes``).
    """

    name: str
    gpus_per_node: int
    cpu_per_node: float
    memory_per_node: float
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    max_nodes: int
    min_nodes: int
    headroom_nodes: int = 0

    def __post_init__(self) -> None:
        if min(self.gpus_per_node, self.cpu_per_node, self.memory_per_node, self.min_nodes, self.headroom_nodes) < 0:
            raise ValueError(f"pool {self.name}: sizes and node counts must be >= 0")
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"pool {self.name}: min_nodes ({self.min_nodes}) > max_nodes ({self.max_nodes})")


@dataclass(frozen=True)
class PodShape:
    """One pod's requests (GPUs, cores, GiB) and scheduling constraints (affinity terms ANDed)."""

    gpus: int
    cpu: float
    memory: float
    node_selector: Mapping[str, str] = field(default_factory=dict)
    affinity: tuple[NodeSelectorRequirement, ...] = ()
    tolerations: tuple[Toleration, ...] = ()

    def __post_init__(self) -> None:
        if min(self.gpus, self.cpu, self.memory) < 0:
            raise ValueError(f"pod requests must be >= 0, got {self.gpus} GPUs, {self.cpu} CPU, {self.memory} GiB")


@dataclass(frozen=True)
class PodGroup:
    """``count`` identical pods of one target."""

    target: str
    shape: PodShape
    count: int


@dataclass(frozen=True)
class NodeFree:
    """Free resources on a node that already exists (GPUs, cores, GiB): its running pods stay put."""

    gpus: int
    cpu: float
    memory: float


# Integer units inside (GPUs, millicores, MiB): float cores and GiB would make "fits exactly" flaky.
_Res = tuple[int, int, int]


def _node(pool: PoolShape) -> _Res:
    return pool.gpus_per_node, round(pool.cpu_per_node * 1000), round(pool.memory_per_node * 1024)


def _pod(pod: PodShape | NodeFree) -> _Res:
    return pod.gpus, round(pod.cpu * 1000), round(pod.memory * 1024)


def _take(room: _Res, need: _Res, k: int) -> _Res:
    return room[0] - k * need[0], room[1] - k * need[1], room[2] - k * need[2]


def _fits(free: _Res, need: _Res) -> int:
    """How many pods of ``need`` fit in ``free`` (a large number for an all-zero pod)."""
    return min((f // n for f, n in zip(free, need, strict=True) if n > 0), default=1 << 62)


def eligible(pod: PodShape, pool: PoolShape) -> str | None:
    """None if ``pod`` may run on a node of ``pool``; else why not, naming the predicate."""
    for key, want in pod.node_selector.items():
        if pool.labels.get(key) != want:
            return f"selector: {key}={want} not in pool {pool.name}'s labels"
    for req in pod.affinity:
        if not req.matches(pool.labels):
            return f"affinity: {req} not matched by pool {pool.name}"
    for taint in pool.taints:
        if taint.effect in _BLOCKING and not any(t.tolerates(taint) for t in pod.tolerations):
            return f"taint: {taint} of pool {pool.name} not tolerated"
    if _fits(_node(pool), _pod(pod)) < 1:
        return (f"too big for a node: pod needs {pod.gpus} GPUs, {pod.cpu:g} CPU, {pod.memory:g} GiB; a {pool.name} "
                f"node has {pool.gpus_per_node} GPUs, {pool.cpu_per_node:g} CPU, {pool.memory_per_node:g} GiB")
    return None


@dataclass(frozen=True)
class Packing:
    """Where pods went: nodes per pool, pods per (target, pool), and pods that fit nowhere.

    ``nodes[pool]`` = existing nodes in use + new nodes + ``headroom_nodes``, within
    ``[min_nodes, max_nodes]``; ``new_nodes[pool]`` counts the new ones alone.
    ``unplaced[target] = (pods, reason)``.
    """

    nodes: dict[str, int]
    new_nodes: dict[str, int]
    placed: dict[tuple[str, str], int]
    unplaced: dict[str, tuple[int, str]]

    def message(self) -> str:
        """One line with the numbers: nodes per pool, placements, and what did not fit and why."""
        parts = [f"{pool}: {n} nodes ({self.new_nodes[pool]} new)" for pool, n in self.nodes.items()]
        parts += [f"{t}→{pool} {n} pods" for (t, pool), n in self.placed.items()]
        parts += [f"{t}: {n} pods unplaced ({why})" for t, (n, why) in self.unplaced.items()]
        return "; ".join(parts)


def _sort_key(group: PodGroup) -> tuple[int, float, float]:
    return group.shape.gpus, group.shape.cpu, group.shape.memory


@dataclass
class _Nodes:
    """One pool's nodes while packing (existing first): free resources each, and which hold pods."""

    full: _Res
    free: list[_Res]
    used: list[bool]

    @classmethod
    def of(cls, pool: PoolShape, existing: Sequence[NodeFree]) -> _Nodes:
        free = [_pod(n) for n in existing]
        return cls(_node(pool), free, [r != _node(pool) for r in free])  # in use unless all of it is free

    def fill(self, need: _Res, pods: int) -> int:
        """Place up to ``pods`` on nodes already there, first fit; how many went."""
        placed = 0
        for i, room in enumerate(self.free):
            k = min(pods - placed, _fits(room, need))
            if k:
                self.free[i], self.used[i], placed = _take(room, need, k), True, placed + k
        return placed

    def grow(self, need: _Res, pods: int, max_nodes: int) -> int:
        """Open nodes for up to ``pods``, no more than ``max_nodes`` in all; how many went."""
        placed, per_node = 0, _fits(self.full, need)
        while placed < pods and len(self.free) < max_nodes:
            k = min(pods - placed, per_node)
            self.free.append(_take(self.full, need, k))
            self.used.append(True)
            placed += k
        return placed


def _add(counts: dict[tuple[str, str], int], target: str, pool: str, pods: int) -> int:
    if pods:
        counts[target, pool] = counts.get((target, pool), 0) + pods
    return pods


def _why_unplaced(ok: Sequence[PoolShape], reasons: Mapping[str, str | None]) -> str:
    if ok:
        return "max_nodes reached: " + ", ".join(f"{p.name} ({p.max_nodes})" for p in ok)
    return "; ".join(r for r in reasons.values() if r) or "no node pools"


def pack(
    groups: Sequence[PodGroup], pools: Sequence[PoolShape], *, existing: Mapping[str, Sequence[NodeFree]] | None = None
) -> Packing:
    """First-fit decreasing over ``pools`` in order; ``existing`` nodes (free resources) are filled first.

    Identical pods are placed a node at a time, which is what pod-by-pod first fit does with
    them. A new node opens in the first eligible pool under ``max_nodes`` (existing nodes
    count against it). Pods that fit nowhere are in ``unplaced`` with the reason.
    """
    existing = existing or {}
    state = {p.name: _Nodes.of(p, existing.get(p.name, ())) for p in pools}
    n_existing = {p.name: len(state[p.name].free) for p in pools}
    placed: dict[tuple[str, str], int] = {}
    unplaced: dict[str, tuple[int, str]] = {}
    for group in sorted(groups, key=_sort_key, reverse=True):  # stable: ties keep input order
        need, left = _pod(group.shape), group.count
        reasons = {p.name: eligible(group.shape, p) for p in pools}
        ok = [p for p in pools if reasons[p.name] is None]
        for pool in ok:  # nodes that exist or were opened for earlier pods, in pool order
            left -= _add(placed, group.target, pool.name, state[pool.name].fill(need, left))
        for pool in ok:  # then new nodes, first eligible pool with room under max_nodes
            left -= _add(placed, group.target, pool.name, state[pool.name].grow(need, left, pool.max_nodes))
        if left:
            why = _why_unplaced(ok, reasons)
            count, before = unplaced.get(group.target, (0, ""))
            unplaced[group.target] = (count + left, f"{before}; {why}" if before and why not in before else why)
    new = {p.name: len(state[p.name].free) - n_existing[p.name] for p in pools}
    nodes = {p.name: min(max(sum(state[p.name].used) + p.headroom_nodes, p.min_nodes), p.max_nodes) for p in pools}
    return Packing(nodes, new, placed, unplaced)
