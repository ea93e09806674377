"""Where pods go: each target's own pool first, then the next eligible pool; full pools shared (pure).

:class:`Placement` is the fleet's view of a config, worked out once and used every tick:

* :meth:`Placement.allocate` — pods per target and pool, GPU by GPU: in round *k* every target with
  pods left claims its *k*-th eligible pool (its ``scheduling.node_pool`` first, then the others its node
  selector, affinity and tolerations allow, in config order — as the scheduler would put them). A
  pool that cannot hold its claims (``max_nodes × gpus_per_node`` minus unusable GPUs) is shared
  out by :func:`~forecastscale.policy.arbitration.arbitrate` (minima, then share × unmet demand,
  whole pods); what a pool leaves ungranted spills to the next round. Only pods that fit in no
  eligible pool are capped; a target with no eligible pool at all is reported, never cut.
* :meth:`Placement.pack` — a pool's nodes for the pods placed on it: first-fit decreasing on GPUs,
  CPU and memory (:mod:`forecastscale.policy.binpack`), plus ``headroom_nodes``, within bounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from forecastscale.config import Config, NodePool, Target
from forecastscale.policy.arbitration import Claim, arbitrate
from forecastscale.policy.binpack import (
    NodeSelectorRequirement,
    Packing,
    PodGroup,
    PodShape,
    PoolShape,
    Taint,
    Toleration,
    eligible,
    pack,
)
from forecastscale.policy.spill import alternatives


def pool_shape(pool: NodePool, headroom: bool = True) -> PoolShape:
    """``pool`` as the bin-packer sees it (GPUs, cores, GiB per node; labels; taints; bounds; headroom)."""
    return PoolShape(pool.name, pool.gpus_per_node, pool.cpu_per_node, pool.memory_gib_per_node, dict(pool.labels),
                     tuple(Taint(t.key, t.value, t.effect) for t in pool.taints), pool.max_nodes, pool.min_nodes,
                     pool.headroom_nodes if headroom else 0)


def pod_shape(target: Target) -> PodShape:
    """One pod of ``target``: its requests and where it may run."""
    pod, where = target.workload, target.scheduling
    return PodShape(pod.gpus_per_pod, pod.cpu, pod.memory_gib, dict(where.node_selector),
                    tuple(NodeSelectorRequirement(a.key, a.operator, a.values) for a in where.affinity),
                    tuple(Toleration(t.key, t.operator, t.value, t.effect) for t in where.tolerations))


@dataclass(frozen=True)
class Allocation:
    """``granted[target][pool]`` pods; ``capped[target]`` why it got fewer than it wanted (eligible pools full);
    ``unplaced[target]`` = (pods, why) for pods that may run in no pool at all."""

    granted: dict[str, dict[str, int]] = field(default_factory=dict)
    capped: dict[str, str] = field(default_factory=dict)
    unplaced: dict[str, tuple[int, str]] = field(default_factory=dict)

    def on(self, pool: str) -> dict[str, int]:
        """Pods per target placed on ``pool`` (targets with none left out)."""
        return {t: n for t, pools in self.granted.items() if (n := pools.get(pool, 0))}

    def total(self, target: str) -> int:
        """Pods of ``target`` placed anywhere."""
        return sum(self.granted.get(target, {}).values())


MEMO_SIZE = 4096  # packings remembered (a few hundred bytes each)


class Placement:
    """Shapes and each target's eligible pools in order, for ``config`` (build one per config, not per tick)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.targets = {t.name: t for t in config.targets}
        self.pods = {t.name: pod_shape(t) for t in config.targets}
        self.shapes = {p.name: (pool_shape(p, headroom=False), pool_shape(p)) for p in config.node_pools}
        self.order = {t.name: self._preference(t) for t in config.targets}
        for name, (alt, _) in alternatives(config).items():  # companions pinned to their pool (policy.spill)
            self.targets[name], self.pods[name] = alt, pod_shape(alt)
            self.order[name] = ([alt.scheduling.node_pool or ""], "")
        self._packed: dict[tuple[str, bool, tuple[tuple[str, int], ...]], Packing] = {}  # a memo: counts repeat

    def _preference(self, target: Target) -> tuple[list[str], str]:
        """The pools ``target``'s pods may use, its own first, and why the others may not (for messages)."""
        home = self.config.pool_for(target)
        ordered = [home, *(p for p in self.config.node_pools if p.name != home.name)]
        why = {p.name: eligible(self.pods[target.name], self.shapes[p.name][1]) for p in ordered}
        return [p.name for p in ordered if why[p.name] is None], "; ".join(w for w in why.values() if w)

    def eligible_pools(self, target: str) -> list[str]:
        """The pools ``target``'s pods may use, its own first."""
        return self.order[target][0]

    def allocate(self, wanted: Mapping[str, int], lost_gpus: Mapping[str, int] | None = None,
                 caps: Mapping[str, int] | None = None) -> Allocation:
        """Place ``wanted`` pods per target name over the pools (see the module docstring); ``caps`` GPUs at most
        on some pools (a stocked-out pool offers only its Ready nodes)."""
        names = [n for n in self.targets if n in wanted]
        pools, caps = self.config.node_pools, caps or {}
        free = {p.name: max(0, min(p.max_nodes * p.gpus_per_node - (lost_gpus or {}).get(p.name, 0),
                                   caps.get(p.name, 1 << 62))) for p in pools}
        left = {n: max(0, wanted[n]) for n in names}
        floor = {n: min(self.targets[n].scaling.min_replicas, left[n]) for n in names}
        out = Allocation({n: {} for n in names})
        notes: dict[str, list[str]] = {n: [] for n in names}
        for rank in range(max((len(self.order[n][0]) for n in names), default=0)):
            for pool in pools:
                claimants = [self.targets[n] for n in names if left[n] and rank < len(self.order[n][0])
                             and self.order[n][0][rank] == pool.name]
                if claimants:
                    _round(pool, claimants, left, floor, free, out, notes)
        for n in names:
            if left[n] and self.order[n][0]:
                out.capped[n] = "; ".join(notes[n]) or f"{left[n]} pods fit no eligible pool"
            elif left[n]:
                out.unplaced[n] = (left[n], self.order[n][1] or "no node pools")
        return out

    def pack(self, pool: NodePool, pods: Mapping[str, int], headroom: bool) -> Packing:
        """``pool``'s nodes for ``pods`` per target name placed on it (with ``headroom_nodes`` if ``headroom``),
        within ``[min_nodes, max_nodes]``: ``Packing.nodes[pool.name]``; its ``message()`` has the numbers."""
        key = (pool.name, headroom, tuple(sorted((n, k) for n, k in pods.items() if k > 0)))
        if key not in self._packed:
            if len(self._packed) >= MEMO_SIZE:  # packings of a pool depend on its counts only: forget, not grow
                self._packed.clear()
            groups = [PodGroup(n, self.pods[n], k) for n, k in key[2]]
            self._packed[key] = pack(groups, [self.shapes[pool.name][1 if headroom else 0]])
        return self._packed[key]


def _round(pool: NodePool, claimants: list[Target], left: dict[str, int], floor: dict[str, int],
           free: dict[str, int], out: Allocation, notes: dict[str, list[str]]) -> None:
    """Grant ``claimants`` pods on ``pool``: all of them if they fit its free GPUs, else arbitrated."""
    gpus = {t.name: t.workload.gpus_per_pod for t in claimants}
    if sum(left[t.name] * gpus[t.name] for t in claimants) <= free[pool.name]:
        grant = {t.name: left[t.name] for t in claimants}
    else:
        claims = [Claim(t.name, left[t.name] * gpus[t.name], floor[t.name] * gpus[t.name], t.scheduling.share,
                        gpus[t.name]) for t in claimants]
        result = arbitrate(claims, free[pool.name])
        grant = {name: g // gpus[name] for name, g in result.granted.items()}
        for t in claimants:
            if result.capped_by[t.name]:
                notes[t.name].append(f"pool {pool.name} full: {result.message()}")
    for name, pods in grant.items():
        if pods:
            out.granted[name][pool.name] = out.granted[name].get(pool.name, 0) + pods
        left[name] -= pods
        floor[name] = max(0, floor[name] - pods)
        free[pool.name] -= pods * gpus[name]
