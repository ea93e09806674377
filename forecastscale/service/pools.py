"""Node pools in the live loop: nodes wanted per pool from the targets' decisions, then patched.

Each target's decision carries the nodes its pods need over the node lead time; a pool runs the
sum over its targets (at most one node too many per target sharing it, the price of sizing
targets independently). A target without a fresh decision keeps its last one, and while any
target of a pool is degraded the pool is never scaled down (missing data is not low demand).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from forecastscale.actuators.base import Actuator
from forecastscale.actuators.errors import KubeApiError
from forecastscale.config import Config
from forecastscale.service.metrics import ServiceMetrics, error_kind
from forecastscale.service.target import PoolView, TargetRunner
from forecastscale.types import Decision

log = logging.getLogger("forecastscale.service")


@dataclass(frozen=True)
class TargetOutcome:
    """One target's tick: ``status`` ok/degraded/error, ``action`` what was done about it."""

    target: str
    status: str
    action: str  # patched | unchanged | dry-run | standby | held | error
    demand: float | None = None
    current: int | None = None
    decision: Decision | None = None
    error: str | None = None


@dataclass(frozen=True)
class PoolOutcome:
    """One pool's tick: nodes wanted, nodes asked for before (``current``), what was done."""

    pool: str
    desired: int
    current: int | None
    action: str  # patched | unchanged | standby | unmanaged | error
    error: str | None = None


def wanted_nodes(config: Config, pool: str, runners: Sequence[TargetRunner],
                 outcomes: Sequence[TargetOutcome], current: int | None) -> int:
    """Nodes for ``pool``: the sum of its targets' last decisions, bounded, never down while degraded."""
    spec = config.pool(pool)
    total, degraded = 0, False
    for r, o in zip(runners, outcomes, strict=True):
        if r.pool.name != pool:
            continue
        decision = o.decision or r.last
        total += decision.nodes if decision is not None else 0
        degraded |= o.status != "ok"
    if degraded and current is not None:
        total = max(total, current)
    return min(max(total, spec.min_nodes), spec.max_nodes)


def size_pools(config: Config, runners: Sequence[TargetRunner], outcomes: Sequence[TargetOutcome],
               actuators: Mapping[str, Actuator], views: Mapping[str, PoolView], may_patch: bool,
               metrics: ServiceMetrics) -> list[PoolOutcome]:
    """Work out and (if ``may_patch``) apply every pool's node count; errors are contained per pool."""
    out: list[PoolOutcome] = []
    for pool in config.node_pools:
        view = views.get(pool.name)
        current = None if view is None else view.ready + view.starting
        desired = wanted_nodes(config, pool.name, runners, outcomes, current)
        metrics.nodes.labels(pool.name).set(desired)
        actuator = actuators.get(pool.name)
        if actuator is None:
            out.append(PoolOutcome(pool.name, desired, current, "unmanaged"))
        elif current == desired:
            out.append(PoolOutcome(pool.name, desired, current, "unchanged"))
        elif not may_patch:
            out.append(PoolOutcome(pool.name, desired, current, "standby"))
        else:
            out.append(_apply(pool.name, desired, current, actuator, metrics))
    return out


def _apply(pool: str, desired: int, current: int | None, actuator: Actuator, metrics: ServiceMetrics) -> PoolOutcome:
    try:
        result = actuator.apply(desired)
    except KubeApiError as exc:
        metrics.errors.labels(error_kind(exc)).inc()
        log.error("node pool %s: %s", pool, exc)
        return PoolOutcome(pool, desired, current, "error", str(exc))
    if result.changed:
        metrics.patches.labels("nodes").inc()
    log.info("node pool %s: %s %s → %d", pool, result.outcome.value, current, desired)
    return PoolOutcome(pool, desired, current, result.outcome.value)
