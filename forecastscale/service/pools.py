"""Node pools in the live loop: read each pool's backend, then write what the fleet decision planned.

The plan itself is :func:`forecastscale.policy.fleet.decide_fleet`'s (the backtest's too): pods
placed in pools (own pool first, spill-over, sharing), bin-packed into nodes with headroom and
replacement nodes. Here it meets the backends: a ``machine_deployment`` pool is asked for the
plan's nodes; a ``balloon`` pool gets one whole-node headroom pod per node planned beyond what
the running pods occupy (the cluster autoscaler turns those pending pods into nodes, and real
pods preempt them). A pool whose backend could not be read this tick is held, never resized blind.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from forecastscale.actuators.base import Actuator, Fence, ScaleState
from forecastscale.config import Config, NodePool
from forecastscale.errors import ForecastscaleError
from forecastscale.policy.fleet import FleetDecision, PoolPlan
from forecastscale.policy.spill import alternatives
from forecastscale.service.metrics import ServiceMetrics, error_kind
from forecastscale.types import Decision

log = logging.getLogger("forecastscale.service")


@dataclass(frozen=True)
class PoolView:
    """A node pool's backend scale as read this tick: ``ready`` and ``starting`` (nodes, or balloon pods)."""

    ready: int = 0
    starting: int = 0


@dataclass(frozen=True)
class TargetOutcome:
    """One target's tick: ``status`` ok/degraded/error, ``action`` what was done about it."""

    target: str
    status: str
    action: str  # patched | unchanged | dry-run | standby | held | fenced | error
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
    action: str  # patched | unchanged | standby | unmanaged | held | error
    error: str | None = None


def read_pools(actuators: Mapping[str, Actuator], metrics: ServiceMetrics) -> dict[str, PoolView]:
    """Each managed pool's nodes as read now; a pool that cannot be read is left out (logged, counted), and
    :func:`size_pools` then holds it rather than resize it blind."""
    views: dict[str, PoolView] = {}
    for name, actuator in actuators.items():
        try:
            state = actuator.current()
        except ForecastscaleError as exc:
            metrics.errors.labels(error_kind(exc)).inc()
            log.error("node pool %s: %s", name, exc)
            continue
        except Exception:  # contained to this pool
            metrics.errors.labels("internal").inc()
            log.exception("node pool %s: unexpected error reading it, contained", name)
            continue
        views[name] = pool_view(state)
    return views


def pool_view(state: ScaleState) -> PoolView:
    """A pool's nodes from its backend's scale: ``ready`` its Ready nodes (a MachineDeployment's ``readyReplicas``,
    else ``status.replicas``), at most what is asked for; ``starting`` the rest of ``spec.replicas`` (never < 0).

    A MachineDeployment's ``status.replicas`` counts Machines, made at once even in a stockout; only Ready
    nodes are ready, so machines waiting for capacity are ``starting`` (what stockout detection watches)."""
    ready = state.status_replicas if state.ready_replicas is None else state.ready_replicas
    ready = max(0, min(ready, state.spec_replicas))
    return PoolView(ready, max(0, state.spec_replicas - ready))


def size_pools(config: Config, fleet: FleetDecision, actuators: Mapping[str, Actuator], views: Mapping[str, PoolView],
               may_patch: bool, metrics: ServiceMetrics, fence: Fence | None = None) -> list[PoolOutcome]:
    """Write every pool's planned size to its backend (if ``may_patch``); errors are contained per pool.
    ``fence()`` runs immediately before each write."""
    for t in config.targets:
        metrics.unplaced.labels(t.name).set(fleet.unplaced.get(t.name, (0, ""))[0])
    if fleet.unplaced:
        log.warning("node pools: %s", "; ".join(f"{t}: {n} pods unplaced ({why})"
                                                  for t, (n, why) in fleet.unplaced.items()))
    _export_usage(config, fleet, views, metrics)
    return [_pool(pool, fleet.pools[pool.name], actuators.get(pool.name), views.get(pool.name), may_patch, metrics,
                  fence) for pool in config.node_pools]


def _pool(pool: NodePool, plan: PoolPlan, actuator: Actuator | None, view: PoolView | None, may_patch: bool,
          metrics: ServiceMetrics, fence: Fence | None) -> PoolOutcome:
    metrics.nodes.labels(pool.name).set(plan.nodes)
    desired = plan.spare if pool.balloon is not None else plan.nodes  # balloon: one pod per spare node
    current = None if view is None else view.ready + view.starting
    if actuator is None:
        return PoolOutcome(pool.name, desired, current, "unmanaged")
    if view is None:  # its read failed this tick (logged, counted): never resized blind
        return PoolOutcome(pool.name, desired, None, "held", "not read this tick; nothing written")
    if current == desired:
        return PoolOutcome(pool.name, desired, current, "unchanged")
    if not may_patch:
        return PoolOutcome(pool.name, desired, current, "standby")
    return _apply(pool.name, desired, current, actuator, metrics, fence)


def _export_usage(config: Config, fleet: FleetDecision, views: Mapping[str, PoolView], metrics: ServiceMetrics) -> None:
    """Per pool: current nodes (as read from a MachineDeployment, else what the running pods occupy),
    GPUs the running pods hold, GPUs the current nodes have, and GPU-seconds (used × tick_s)."""
    gpus = {t.name: t.workload.gpus_per_pod for t in config.targets}
    gpus |= {key: alt.workload.gpus_per_pod for key, (alt, _) in alternatives(config).items()}
    for pool in config.node_pools:
        plan = fleet.pools[pool.name]
        view = views.get(pool.name) if pool.machine_deployment is not None else None
        nodes = view.ready + view.starting if view is not None else plan.running
        used = sum(n * gpus[t] for t, n in plan.pods.items())
        metrics.current_nodes.labels(pool.name).set(nodes)
        metrics.gpus_used.labels(pool.name).set(used)
        metrics.gpus_allocatable.labels(pool.name).set(nodes * pool.gpus_per_node)
        metrics.gpu_seconds.labels(pool.name).inc(used * config.service.tick_s)


def _apply(pool: str, desired: int, current: int | None, actuator: Actuator, metrics: ServiceMetrics,
           fence: Fence | None) -> PoolOutcome:
    try:
        result = actuator.apply(desired, fence)
    except ForecastscaleError as exc:  # API errors, and NotLeader: fenced right before the write
        metrics.errors.labels(error_kind(exc)).inc()
        log.error("node pool %s: %s", pool, exc)
        return PoolOutcome(pool, desired, current, "error", str(exc))
    except Exception as exc:  # contained to this pool: the others are still sized
        metrics.errors.labels("internal").inc()
        log.exception("node pool %s: unexpected error, contained", pool)
        return PoolOutcome(pool, desired, current, "error", f"internal: {type(exc).__name__}")
    if result.changed:
        metrics.patches.labels("nodes").inc()
    log.info("node pool %s: %s %s → %d", pool, result.outcome.value, current, desired)
    return PoolOutcome(pool, desired, current, result.outcome.value)
