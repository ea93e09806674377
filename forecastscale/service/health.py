"""Health-aware capacity in the live loop: which GPUs of each pool can be counted on this tick.

For every pool with ``health.enabled``, the pool's nodes are listed (by its ``labels``) and the
GPU-health query (``service.queries.gpu_health``, e.g. DCGM XID errors) names unhealthy GPUs per
node; :func:`forecastscale.policy.gpuhealth.update` keeps the memory of repeat offenders and says
what is usable. The tick then shares a full pool over what is usable, and asks the pool's backend
for replacement nodes for what is lost. A failed read keeps the last known capacity (a blind tick
must not make a pool look healthier than it was).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace

from forecastscale.config import Config
from forecastscale.errors import ForecastscaleError
from forecastscale.policy.gpuhealth import Capacity, HealthMemory, update
from forecastscale.service.metrics import ServiceMetrics, error_kind
from forecastscale.types import NodeHealth

log = logging.getLogger("forecastscale.service")

ListNodes = Callable[[str, Mapping[str, str]], list[NodeHealth]]  # (pool, labels) → its nodes
BadGpus = Callable[[float], Mapping[str, frozenset[int]]]  # UNIX seconds → node → unhealthy GPU indices


class HealthWatch:
    """Reads node and GPU health each tick; :attr:`capacity` is the latest usable capacity (or None)."""

    def __init__(self, config: Config, list_nodes: ListNodes, bad_gpus: BadGpus | None,
                 metrics: ServiceMetrics) -> None:
        self.config, self.list_nodes, self.bad_gpus, self.metrics = config, list_nodes, bad_gpus, metrics
        self.pools = [p for p in config.node_pools if p.health.enabled]
        self.memory = {p.name: HealthMemory() for p in self.pools}
        self.capacity: dict[str, Capacity] = {}
        self.ready_nodes: dict[str, int] = {}  # per watched pool: its nodes with the Ready condition, as last listed

    def read(self, now: float) -> None:
        """One round over the watched pools; errors are logged and counted, the last capacity kept."""
        try:
            self._read(now)
        except Exception:  # the last known capacity stays (a blind tick must not look healthier)
            self.metrics.errors.labels("internal").inc()
            log.exception("node health: unexpected error, keeping the last known capacity")

    def _read(self, now: float) -> None:
        bad = self._bad(now)
        for pool in self.pools:
            try:
                nodes = self.list_nodes(pool.name, dict(pool.labels))
            except ForecastscaleError as exc:
                self.metrics.errors.labels(error_kind(exc)).inc()
                log.error("node pool %s: cannot list nodes, keeping the last health: %s", pool.name, exc)
                self.ready_nodes.pop(pool.name, None)  # not known this tick: no node lead is timed on it
                continue
            self.ready_nodes[pool.name] = sum(1 for n in nodes if n.ready)
            nodes = [self._with_bad(n, bad.get(n.node, frozenset())) for n in nodes]
            h = pool.health
            self.memory[pool.name], cap = update(self.memory[pool.name], nodes, now, fail_threshold=h.fail_threshold,
                                                 window_s=h.window_s, quarantine_s=h.quarantine_s)
            self.capacity[pool.name] = cap
            self.metrics.gpus_excluded.labels(pool.name).set(cap.lost(pool.name))
            for e in cap.excluded:
                log.info("node pool %s: %s excluded (%d GPUs): %s", pool.name,
                         e.node if e.gpu is None else f"{e.node} GPU {e.gpu}", e.gpus, e.reason)

    def _with_bad(self, node: NodeHealth, bad: frozenset[int]) -> NodeHealth:
        """``node`` with the GPU-health query's unhealthy GPUs; an index the node does not have (a label from
        another node type, a stale series) is ignored, counted and logged, never fatal to the round."""
        beyond = {i for i in bad if not 0 <= i < node.gpus}
        if beyond:
            self.metrics.errors.labels("gpu_health_query").inc()
            log.warning("node %s has %d GPUs; the GPU-health query names GPUs %s: ignored", node.node, node.gpus,
                        sorted(beyond)[:8])
        return replace(node, unhealthy_gpus=node.unhealthy_gpus | (bad - beyond))

    def _bad(self, now: float) -> Mapping[str, frozenset[int]]:
        if self.bad_gpus is None:
            return {}
        try:
            return self.bad_gpus(now)
        except ForecastscaleError as exc:
            self.metrics.errors.labels(error_kind(exc)).inc()
            log.warning("GPU health query failed, node conditions only this tick: %s", exc)
            return {}

    def lost(self) -> dict[str, int]:
        """GPUs not usable now, per watched pool."""
        return {name: cap.lost(name) for name, cap in self.capacity.items()}

    def replacement_nodes(self) -> dict[str, int]:
        """Nodes to add per watched pool so the lost GPUs are replaced."""
        return {p.name: self.capacity[p.name].replacement_nodes(p.name, p.gpus_per_node)
                for p in self.pools if p.name in self.capacity}
