"""Spill-over to another accelerator while a target's own pool is stocked out (pure).

A target may list ``workload.alternatives``: other pools, in order of preference, each served by its own
Deployment (``chat-a100`` beside ``chat``: the usual one-per-accelerator pattern) with its own pod shape and
``capacity_per_replica``. The fleet treats each alternative as a companion of its target, keyed
``<target>@<pool>`` (:func:`key`), that the policy never decides: its replicas follow from the target's shortfall.

* **While the own pool is stocked out** (:mod:`forecastscale.policy.stockout`) it offers only the GPUs of its
  Ready nodes (:func:`caps`; its outstanding request is withdrawn by the fleet, so it cannot land late on top).
  The pods of the target's own shape that fit no pool are ``short``; their capacity (pods ×
  ``capacity_per_replica``) goes to the first alternative whose pool is not stocked out, in that alternative's
  replicas (:func:`spill_to`).
* **Once the pool delivers again**, the target's own pods are placed as before and its nodes asked for again;
  the alternative then covers only what the target's *Ready* pods do not yet cover, so it shrinks as the own
  pods come up — capacity moves back without a cliff — and ends at zero.

Limits only apply to pools a target with alternatives is placed on: a pool whose pods have nowhere else to go
keeps its request standing (its nodes still come as soon as the provider has them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from forecastscale.config import Alternative, Config, Target
from forecastscale.types import PoolState

SEPARATOR = "@"


def key(target: str, pool: str) -> str:
    """The fleet's name for ``target``'s alternative on ``pool``."""
    return f"{target}{SEPARATOR}{pool}"


def alternative_target(target: Target, alt: Alternative) -> Target:
    """``target``'s alternative as a target of its own: its workload, pod shape and capacity, pinned to
    ``alt.pool`` (no selector of the original accelerator), no replica floor."""
    work = target.workload
    workload = work.model_copy(update={
        "name": alt.name, "capacity_per_replica": alt.capacity_per_replica, "gpus_per_pod": alt.gpus_per_pod,
        "cpu": work.cpu if alt.cpu is None else alt.cpu, "alternatives": (),
        "memory_gib": work.memory_gib if alt.memory_gib is None else alt.memory_gib,
        "pod_startup_s": work.pod_startup_s if alt.pod_startup_s is None else alt.pod_startup_s})
    scheduling = target.scheduling.model_copy(update={"node_pool": alt.pool, "node_selector": {}, "affinity": ()})
    scaling = target.scaling.model_copy(update={"min_replicas": 0})
    return target.model_copy(update={"name": key(target.name, alt.pool), "workload": workload,
                                     "scheduling": scheduling, "scaling": scaling})


def alternatives(config: Config) -> dict[str, tuple[Target, Target]]:
    """Every alternative of ``config``'s targets: key → (its own target, the target it is an alternative of)."""
    return {key(t.name, a.pool): (alternative_target(t, a), t) for t in config.targets for a in t.workload.alternatives}


def caps(config: Config, stocked: set[str], pools: Mapping[str, PoolState]) -> dict[str, int]:
    """GPUs (usable, on Ready nodes) each stocked-out pool offers, for pools a target with alternatives runs on."""
    homes = {config.pool_for(t).name for t in config.targets if t.workload.alternatives}
    out = {}
    for pool in config.node_pools:
        if pool.name in stocked and pool.name in homes and (state := pools.get(pool.name)) is not None:
            out[pool.name] = max(0, state.ready * pool.gpus_per_node - state.lost_gpus)
    return out


def short(wanted: int, granted: int, ready: int, stocked: bool, draining: bool) -> int:
    """Pods of the target's own shape not covered: while its pool is stocked out, those that fit no pool
    (``wanted − granted``); after, while an alternative still runs, those not Ready yet (``wanted − ready``)."""
    if stocked:
        return max(0, wanted - granted)
    return max(0, wanted - ready) if draining else 0


def spill_to(target: Target, pods: int, stocked: set[str]) -> dict[str, int]:
    """Replicas per alternative key for ``pods`` of ``target``'s own shape: their capacity (demand units/s) on the
    first alternative whose pool is not stocked out, rounded up; every other alternative 0."""
    out = {key(target.name, a.pool): 0 for a in target.workload.alternatives}
    demand = pods * target.workload.capacity_per_replica
    for alt in target.workload.alternatives:
        if pods and alt.pool not in stocked:
            out[key(target.name, alt.pool)] = math.ceil(demand / alt.capacity_per_replica - 1e-9)
            break
    return out
