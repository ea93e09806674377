"""Node pools sized as the scheduler would place the planned pods, and full pools shared (pure).

Every target's planned pods (what its decision says the pools must hold once a node asked for
now is Ready) are bin-packed, first-fit decreasing, into the pools their node selector,
affinity and tolerations allow (:mod:`forecastscale.policy.binpack`), in the config's pool order.
A target's ``node_pool`` names where the backtest simulates it; live, its pods may land in any
pool they are eligible for, as the scheduler would put them.
"""

from __future__ import annotations

from collections.abc import Mapping

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
    pack,
)


def pool_shape(pool: NodePool) -> PoolShape:
    """``pool`` as the bin-packer sees it (GPUs, cores, GiB per node; labels; taints; bounds)."""
    return PoolShape(pool.name, pool.gpus_per_node, pool.cpu_per_node, pool.memory_gib_per_node, dict(pool.labels),
                     tuple(Taint(t.key, t.value, t.effect) for t in pool.taints), pool.max_nodes, pool.min_nodes,
                     pool.headroom_nodes)


def pod_shape(target: Target) -> PodShape:
    """One pod of ``target``: its requests and where it may run."""
    return PodShape(target.gpus_per_pod, target.cpu, target.memory_gib, dict(target.node_selector),
                    tuple(NodeSelectorRequirement(a.key, a.operator, a.values) for a in target.affinity),
                    tuple(Toleration(t.key, t.operator, t.value, t.effect) for t in target.tolerations))


def plan_nodes(config: Config, pods: Mapping[str, int]) -> Packing:
    """Nodes per pool for ``pods`` (planned pods per target name); pods that fit nowhere are reported."""
    by_name = {t.name: t for t in config.targets}
    groups = [PodGroup(name, pod_shape(by_name[name]), count) for name, count in pods.items() if count > 0]
    return pack(groups, [pool_shape(p) for p in config.node_pools])


def share_pools(config: Config, wanted: Mapping[str, int], lost_gpus: Mapping[str, int] | None = None
                ) -> dict[str, tuple[int, str]]:
    """Targets capped where their pool cannot hold what they want: ``{target: (replicas, why)}``.

    Per pool (a target's ``node_pool``), capacity is ``max_nodes × gpus_per_node`` minus GPUs
    known lost (unhealthy, NotReady, cordoned). When the pool's targets want more GPUs than that,
    :func:`forecastscale.policy.arbitration.arbitrate` splits it: guaranteed ``min_replicas``
    first, then by ``share`` × unmet demand, whole pods. Targets that fit are not listed.
    """
    lost = lost_gpus or {}
    out: dict[str, tuple[int, str]] = {}
    for pool in config.node_pools:
        mine = [t for t in config.targets if config.pool_for(t).name == pool.name and t.name in wanted]
        capacity = max(0, pool.max_nodes * pool.gpus_per_node - lost.get(pool.name, 0))
        if sum(wanted[t.name] * t.gpus_per_pod for t in mine) <= capacity:
            continue
        claims = [Claim(t.name, wanted[t.name] * t.gpus_per_pod, min(t.min_replicas, wanted[t.name]) * t.gpus_per_pod,
                        t.share, t.gpus_per_pod) for t in mine]
        result = arbitrate(claims, capacity)
        why = f"pool {pool.name} full: {result.message()}"
        out.update({t.name: (result.granted[t.name] // t.gpus_per_pod, why) for t in mine
                    if result.capped_by[t.name]})
    return out
