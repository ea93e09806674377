"""Node pools in the live loop: nodes wanted per pool from the targets' decisions, then patched.

Each target's decision says how many pods the pools must hold once a node asked for now is
Ready; those pods are bin-packed into the pools they may run on (:mod:`forecastscale.policy.placement`)
and each pool is asked for the nodes the packing needs (plus its headroom). A target without a
fresh decision keeps its last one, and while any target of a pool is degraded the pool is never
scaled down (missing data is not low demand).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from forecastscale.actuators.base import Actuator, Fence
from forecastscale.config import Config, NodePool
from forecastscale.errors import ForecastscaleError
from forecastscale.policy.binpack import Packing
from forecastscale.policy.placement import plan_nodes
from forecastscale.service.metrics import ServiceMetrics, error_kind
from forecastscale.service.target import PoolView, TargetRunner
from forecastscale.types import Decision

log = logging.getLogger("forecastscale.service")


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
        views[name] = PoolView(min(state.status_replicas, state.spec_replicas),
                               max(0, state.spec_replicas - state.status_replicas))
    return views


def _pods(runners: Sequence[TargetRunner], outcomes: Sequence[TargetOutcome], ahead: bool) -> dict[str, int]:
    """Pods per target: planned over the node lead (``ahead``) or running now (spec replicas)."""
    out: dict[str, int] = {}
    for r, o in zip(runners, outcomes, strict=True):
        decision = o.decision or r.last
        if ahead and decision is not None:
            out[r.target.name] = decision.pods_ahead if decision.pods_ahead is not None else decision.replicas
        else:
            out[r.target.name] = o.current if o.current is not None else (decision.replicas if decision else 0)
    return out


def plan(config: Config, runners: Sequence[TargetRunner], outcomes: Sequence[TargetOutcome]) -> tuple[Packing, Packing]:
    """Bin-packed nodes for the planned pods and for the pods running now (see :mod:`policy.placement`)."""
    return plan_nodes(config, _pods(runners, outcomes, True)), plan_nodes(config, _pods(runners, outcomes, False))


def _held(pool: NodePool, desired: int, current: int | None, runners: Sequence[TargetRunner],
          outcomes: Sequence[TargetOutcome]) -> int:
    """Never below ``current`` while a target homed on ``pool`` is degraded (missing data is not low demand)."""
    degraded = any(o.status != "ok" for r, o in zip(runners, outcomes, strict=True) if r.pool.name == pool.name)
    return max(desired, current) if degraded and current is not None else desired


def size_pools(config: Config, runners: Sequence[TargetRunner], outcomes: Sequence[TargetOutcome],
               actuators: Mapping[str, Actuator], views: Mapping[str, PoolView], may_patch: bool,
               metrics: ServiceMetrics, replacement: Mapping[str, int] | None = None,
               fence: Fence | None = None) -> list[PoolOutcome]:
    """Work out and (if ``may_patch``) apply every pool's node count; errors are contained per pool.

    A MachineDeployment gets the nodes the planned pods need; a balloon Deployment gets one
    whole-node headroom pod per node planned beyond what the running pods need (the cluster
    autoscaler turns those pending pods into nodes, and real pods preempt them). ``replacement``
    adds nodes per pool for capacity that is there but unusable (unhealthy GPUs, NotReady or
    cordoned nodes), within ``max_nodes``. ``fence()`` runs immediately before each write.
    """
    planned, running = plan(config, runners, outcomes)
    for t in config.targets:
        metrics.unplaced.labels(t.name).set(planned.unplaced.get(t.name, (0, ""))[0])
    if planned.unplaced:
        log.warning("node pools: %s", planned.message())
    _export_usage(config, running, views, metrics)
    out: list[PoolOutcome] = []
    for pool in config.node_pools:
        actuator = actuators.get(pool.name)
        balloon = pool.balloon is not None
        view = views.get(pool.name)
        current = None if view is None else view.ready + view.starting
        extra = (replacement or {}).get(pool.name, 0)
        desired = _held(pool, min(planned.nodes[pool.name] + extra, pool.max_nodes), None if balloon else current,
                        runners, outcomes)
        metrics.nodes.labels(pool.name).set(desired)
        if balloon:
            # Both packings include the headroom: the spare nodes are the difference, plus the headroom.
            desired = max(0, desired - extra - running.nodes[pool.name]) + pool.headroom_nodes + extra
        if actuator is None:
            out.append(PoolOutcome(pool.name, desired, current, "unmanaged"))
        elif view is None:  # its read failed this tick (logged, counted): never resized blind
            out.append(PoolOutcome(pool.name, desired, None, "held", "not read this tick; nothing written"))
        elif current == desired:
            out.append(PoolOutcome(pool.name, desired, current, "unchanged"))
        elif not may_patch:
            out.append(PoolOutcome(pool.name, desired, current, "standby"))
        else:
            out.append(_apply(pool.name, desired, current, actuator, metrics, fence))
    return out


def _export_usage(config: Config, running: Packing, views: Mapping[str, PoolView], metrics: ServiceMetrics) -> None:
    """Per pool: current nodes (as read from a MachineDeployment, else what the running pods occupy),
    GPUs the running pods hold, GPUs the current nodes have, and GPU-seconds (used × tick_s)."""
    gpus = {t.name: t.gpus_per_pod for t in config.targets}
    for pool in config.node_pools:
        view = views.get(pool.name) if pool.machine_deployment is not None else None
        nodes = view.ready + view.starting if view is not None else running.nodes[pool.name]
        used = sum(n * gpus[t] for (t, p), n in running.placed.items() if p == pool.name)
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
