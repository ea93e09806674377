"""A deterministic GPU fleet: several targets' pods on several node pools, pods of different targets sharing nodes.

Time advances in decision steps; lead times count from the decision step that caused them, and times
that fall between steps (a fault's start, a node's readiness) take effect at the first step at or after them.

* **Pods.** :meth:`FleetSimulator.apply` sets each target's replicas. New pods are pending. Each step the
  scheduler binds pending pods, oldest first, to the first Ready node with room for the pod's GPUs, CPU
  and memory, trying the target's eligible pools in the fleet's order (its own pool, then those its node
  selector, affinity and tolerations allow: :meth:`~forecastscale.policy.placement.Placement.eligible_pools`); pods that
  fit nowhere stay pending. A bound pod is ready ``pod_startup_s`` after binding (or a time drawn per pod with
  ``backtest.startup``, :mod:`~forecastscale.backtest.startup`; nodes alike).
* **Scale-down** frees GPUs at once, removing pending pods first (newest first), then starting pods (newest
  first), then ready pods (newest first), as a ReplicaSet does.
* **Nodes** requested at *t* are Ready at *t* + ``node_startup_s``. Fewer nodes asked for: starting nodes
  are cancelled first (newest first), then Ready nodes are removed, least used first, only while their pods
  fit on the pool's other Ready nodes (they are assumed moved there: compaction, as a cluster autoscaler's
  drain would do); a node whose pods fit nowhere else, or whose pods are still starting, stays.
* **Health faults** (:class:`Fault`): at its start a fault hits the pool's Ready nodes, oldest first —
  ``nodes`` whole nodes, or ``gpus`` GPUs one per node round robin. Pods beyond a hit node's usable GPUs
  are evicted (newest first) back to pending and bind wherever there is room. The hit GPUs are the pool's
  ``lost_gpus`` while those nodes exist, and usable again when the fault ends; nodes added later are healthy.
* **Stockouts** (:class:`Outage`): a node asked for while its pool is stocked out starts booting when the
  stockout ends (Ready ``node_startup_s`` later); nodes already booting when it begins arrive as usual. A
  waiting node counts as starting (it was asked for) but costs nothing until it boots.
* **Cost**: provisioned GPUs are those of every node booting or Ready, faulty ones included.

Units: seconds, GPUs, cores, GiB (integers inside: millicores, MiB, so that "fits exactly" is exact).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from forecastscale.backtest.startup import Startup
from forecastscale.config import Config, NodePool, Target
from forecastscale.policy.placement import Placement
from forecastscale.policy.spill import alternatives
from forecastscale.types import PoolState

_Res = tuple[int, int, int]  # GPUs, millicores, MiB


@dataclass(frozen=True)
class Fault:
    """``gpus`` GPUs (one per node, round robin) or ``nodes`` whole nodes of ``pool`` unusable in ``[start_s, end_s)``
    (run seconds)."""

    pool: str
    start_s: float
    end_s: float
    gpus: int = 0
    nodes: int = 0


@dataclass(frozen=True)
class Outage:
    """``pool`` stocked out in ``[start_s, end_s)`` (run seconds): nodes asked for then do not boot before ``end_s``."""

    pool: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class PodCounts:
    """One target's pods now: all that exist (spec.replicas), Ready, bound but starting, pending."""

    replicas: int
    ready: int
    starting: int
    pending: int


class _Pod:
    __slots__ = ("need", "node", "ready_at", "seq", "target")

    def __init__(self, target: str, need: _Res, seq: int) -> None:
        self.target, self.need, self.seq = target, need, seq
        self.node: _Node | None = None
        self.ready_at = math.inf  # bound: ready from then on


class _Node:
    __slots__ = ("boot_at", "full", "lost", "pods", "ready_at", "seq", "used")

    def __init__(self, full: _Res, seq: int, boot_at: float, ready_at: float) -> None:
        self.full, self.seq, self.boot_at, self.ready_at = full, seq, boot_at, ready_at
        self.used: list[int] = [0, 0, 0]
        self.lost: dict[int, int] = {}  # fault index → GPUs it made unusable here
        self.pods: list[_Pod] = []

    def lost_gpus(self) -> int:
        return min(self.full[0], sum(self.lost.values()))

    def free(self) -> list[int]:
        """Room left: usable GPUs, millicores and MiB not held by pods."""
        gpus, cpu, memory = self.full
        return [gpus - self.lost_gpus() - self.used[0], cpu - self.used[1], memory - self.used[2]]

    def fits(self, need: _Res) -> bool:
        return _within(need, self.free())

    def put(self, pod: _Pod) -> None:
        pod.node = self
        self.pods.append(pod)
        self.used = [u + n for u, n in zip(self.used, pod.need, strict=True)]

    def take(self, pod: _Pod) -> None:
        self.pods.remove(pod)
        self.used = [u - n for u, n in zip(self.used, pod.need, strict=True)]
        pod.node = None


def _within(need: _Res, room: Sequence[int]) -> bool:
    return need[0] <= room[0] and need[1] <= room[1] and need[2] <= room[2]


def _resources(gpus: int, cpu: float, memory_gib: float) -> _Res:
    return gpus, round(cpu * 1000), round(memory_gib * 1024)


class FleetSimulator:
    """The pods of ``config``'s targets on its node pools; :meth:`apply` each step, then read the views."""

    def __init__(self, config: Config, faults: Sequence[Fault] = (), outages: Sequence[Outage] = (),
                 placement: Placement | None = None, startup: Startup | None = None) -> None:
        self.startup = startup or Startup()  # the constants, or per-event draws (backtest.startup)
        self.pools: dict[str, NodePool] = {p.name: p for p in config.node_pools}
        self.targets: dict[str, Target] = {t.name: t for t in config.targets}
        placement = placement or Placement(config)
        self.order = {t.name: placement.eligible_pools(t.name) for t in config.targets}
        self.need = {t.name: _resources(t.workload.gpus_per_pod, t.workload.cpu, t.workload.memory_gib)
                     for t in config.targets}
        self.owner: dict[str, str] = {}  # an alternative accelerator's Deployment → its target (policy.spill)
        for name, (alt, owner) in alternatives(config).items():
            self.targets[name], self.order[name], self.owner[name] = alt, placement.eligible_pools(name), owner.name
            self.need[name] = _resources(alt.workload.gpus_per_pod, alt.workload.cpu, alt.workload.memory_gib)
        self.nodes: dict[str, list[_Node]] = {p: [] for p in self.pools}
        self.pending: list[_Pod] = []  # creation order
        self.bound: dict[str, list[_Pod]] = {t: [] for t in self.targets}
        self.faults, self.outages = list(faults), list(outages)
        self._hit: dict[int, list[_Node]] = {}  # faults in force → the nodes they hit
        self.now, self._seq = 0.0, 0

    # --- set-up and decisions ------------------------------------------------------------------------
    def seed(self, replicas: Mapping[str, int], nodes: Mapping[str, int]) -> None:
        """At time 0: ``nodes`` per pool Ready and ``replicas`` per target placed on them and Ready."""
        for pool, n in nodes.items():
            self._add_nodes(pool, n, ready_at=0.0, boot_at=0.0)
        for name, n in replicas.items():
            self._scale_pods(name, n)
        self._bind(startup=False)

    def apply(self, t: float, replicas: Mapping[str, int], nodes: Mapping[str, int]) -> None:
        """Carry out a decision made at ``t``: pods first (frees GPUs), then nodes, then bind."""
        self.now = t
        for name, n in replicas.items():
            self._scale_pods(name, n)
        for pool, n in nodes.items():
            self._scale_nodes(pool, n, t)
        self.advance(t)  # zero start-up times take effect in the same step

    def advance(self, t: float) -> None:
        """Move to ``t``: faults that ended recover, nodes and pods whose start-up finished are Ready (by their
        times), faults that began hit, then pending pods bind."""
        self.now = t
        for k in [k for k in self._hit if self.faults[k].end_s <= t]:
            for node in self._hit.pop(k):
                node.lost.pop(k, None)
        for k, fault in enumerate(self.faults):
            if fault.start_s <= t < fault.end_s and k not in self._hit:
                self._strike(k, fault)
        self._bind()

    # --- pods -----------------------------------------------------------------------------------------
    def _scale_pods(self, name: str, replicas: int) -> None:
        """New pending pods up to ``replicas``; or pods removed down to it: pending, then starting, then ready,
        newest first in each."""
        mine = [p for p in self.pending if p.target == name]
        diff = replicas - len(mine) - len(self.bound[name])
        for _ in range(diff):
            self._seq += 1
            self.pending.append(_Pod(name, self.need[name], self._seq))
        bound = sorted(self.bound[name], key=lambda p: (p.ready_at <= self.now, -p.ready_at, -p.seq))
        for pod in (mine[::-1] + bound)[: max(0, -diff)]:
            if pod.node is None:
                self.pending.remove(pod)
            else:
                self._unbind(pod)

    def _unbind(self, pod: _Pod) -> None:
        assert pod.node is not None
        pod.node.take(pod)
        self.bound[pod.target].remove(pod)
        pod.ready_at = math.inf

    def _bind(self, startup: bool = True) -> None:
        """Bind pending pods, oldest first, where a Ready node has room (Ready ``pod_startup_s`` later, or at once
        without ``startup``); a target whose pod found none is skipped for the rest of the pass (same shape)."""
        full: set[str] = set()
        for pod in list(self.pending):
            if pod.target in full:
                continue
            node = self._room(pod)
            if node is None:
                full.add(pod.target)
                continue
            self.pending.remove(pod)
            node.put(pod)
            pod.ready_at = self.now + (self.startup.pod(self.targets[pod.target], self.now) if startup else 0.0)
            self.bound[pod.target].append(pod)

    def _room(self, pod: _Pod) -> _Node | None:
        for pool in self.order[pod.target]:
            for node in self.nodes[pool]:
                if node.ready_at <= self.now and node.fits(pod.need):
                    return node
        return None

    # --- nodes ----------------------------------------------------------------------------------------
    def _add_nodes(self, pool: str, n: int, ready_at: float, boot_at: float) -> None:
        p = self.pools[pool]
        for _ in range(n):
            self._seq += 1
            full = _resources(p.gpus_per_node, p.cpu_per_node, p.memory_gib_per_node)
            self.nodes[pool].append(_Node(full, self._seq, boot_at, ready_at))

    def _boot_at(self, pool: str, t: float) -> float:
        """When a node asked for at ``t`` starts booting: ``t``, or the end of the stockout(s) holding it."""
        for o in sorted((o for o in self.outages if o.pool == pool), key=lambda o: o.start_s):
            if o.start_s <= t < o.end_s:
                t = o.end_s  # in start order: one that begins before this one ends is met next
        return t

    def _scale_nodes(self, pool: str, wanted: int, t: float) -> None:
        """Ask for nodes up to ``wanted``; or remove down to it: starting nodes (newest first), then Ready nodes
        (least used first, newest first among equals) whose pods move onto the others."""
        nodes = self.nodes[pool]
        if wanted > len(nodes):
            boot = self._boot_at(pool, t)
            for _ in range(wanted - len(nodes)):  # one draw per node (the constant without backtest.startup)
                self._add_nodes(pool, 1, boot + self.startup.node(self.pools[pool], boot), boot)
        starting = sorted((n for n in nodes if n.ready_at > t), key=lambda n: -n.seq)
        ready = sorted((n for n in nodes if n.ready_at <= t), key=lambda n: (n.used[0], -n.seq))
        for node in starting + ready:
            # A node whose pods are still starting stays: moving them would start them over.
            if len(nodes) > wanted and (node.ready_at > t or (self._settled(node) and self._drain(pool, node))):
                nodes.remove(node)

    def _settled(self, node: _Node) -> bool:
        """Whether every pod on ``node`` is Ready (none starting)."""
        return all(p.ready_at <= self.now for p in node.pods)

    def _drain(self, pool: str, node: _Node) -> bool:
        """Move ``node``'s pods onto the pool's other Ready nodes, first fit; False (nothing moved) if some do not
        fit."""
        others = [n for n in self.nodes[pool] if n is not node and n.ready_at <= self.now]
        room = [n.free() for n in others]
        plan: list[tuple[_Pod, _Node]] = []
        for pod in sorted(node.pods, key=lambda p: p.need, reverse=True):
            k = next((k for k, r in enumerate(room) if _within(pod.need, r)), None)
            if k is None:
                return False
            room[k] = [r - n for r, n in zip(room[k], pod.need, strict=True)]
            plan.append((pod, others[k]))
        for pod, dest in plan:
            node.take(pod)
            dest.put(pod)
        return True

    # --- faults ---------------------------------------------------------------------------------------
    def _strike(self, k: int, fault: Fault) -> None:
        """Fault ``k`` hits the pool's Ready nodes, oldest first; pods beyond what is left are evicted."""
        ready = [n for n in self.nodes[fault.pool] if n.ready_at <= self.now]
        for node in ready[: fault.nodes]:
            node.lost[k] = node.full[0]
        for i in range(min(fault.gpus, sum(n.full[0] for n in ready))):
            node = ready[i % len(ready)]
            node.lost[k] = node.lost.get(k, 0) + 1
        self._hit[k] = [n for n in ready if k in n.lost]
        for node in self._hit[k]:
            self._evict(node)

    def _evict(self, node: _Node) -> None:
        """Pods beyond ``node``'s usable GPUs back to pending, newest first (the scheduler's queue keeps age)."""
        for pod in sorted(node.pods, key=lambda p: (-p.ready_at, -p.seq)):
            if node.used[0] <= node.full[0] - node.lost_gpus():
                break
            self._unbind(pod)
            self.pending.append(pod)
        self.pending.sort(key=lambda p: p.seq)

    # --- views ----------------------------------------------------------------------------------------
    def counts(self, name: str) -> PodCounts:
        """Target ``name``'s pods now."""
        ready = sum(1 for p in self.bound[name] if p.ready_at <= self.now)
        pending = sum(1 for p in self.pending if p.target == name)
        starting = len(self.bound[name]) - ready
        return PodCounts(ready + starting + pending, ready, starting, pending)

    def ready_capacity(self, name: str) -> float:
        """Demand target ``name`` can serve now: Ready pods × ``capacity_per_replica``, its alternatives' Ready pods
        (another accelerator) × theirs included."""
        own = [name, *(k for k, owner in self.owner.items() if owner == name)]
        return sum(self.counts(k).ready * self.targets[k].workload.capacity_per_replica for k in own)

    def pool_state(self, pool: str) -> PoolState:
        """Pool ``pool`` as the fleet reads it: Ready and starting nodes, GPUs lost on them."""
        nodes = self.nodes[pool]
        ready = [n for n in nodes if n.ready_at <= self.now]
        lost = sum(n.lost_gpus() for n in ready)
        return PoolState(ready=len(ready), starting=len(nodes) - len(ready), lost_gpus=lost, nodes_ready=len(ready))

    def node_count(self, pool: str) -> int:
        """Nodes asked for and not removed: Ready, booting, or waiting out a stockout."""
        return len(self.nodes[pool])

    def provisioned_gpus(self, pool: str) -> int:
        """GPUs paid for now: every node booting or Ready."""
        return sum(n.full[0] for n in self.nodes[pool] if n.boot_at <= self.now)

    def bound_gpus(self, pool: str) -> dict[str, int]:
        """GPUs held on ``pool`` by each target's bound pods (starting or Ready)."""
        out: dict[str, int] = {}
        for node in self.nodes[pool]:
            for pod in node.pods:  # an alternative's pods count for the target they serve
                owner = self.owner.get(pod.target, pod.target)
                out[owner] = out.get(owner, 0) + pod.need[0]
        return out
