"""Ready replicas and lead times in the live loop: read, record the writes made, export.

* :class:`ReadyReader` asks Prometheus once a tick for every workload's Ready pods
  (``service.queries.ready_replicas``). A target without a usable series counts the pods that exist as ready, as
  the scale subresource says (the fallback is logged when it starts and when it ends, and counted in
  ``forecastscale_samples_dropped_total{reason="ready_missing"}``); a failed query never fails the tick.
* :func:`writes` turns a tick's successful writes into the (before, after) counts the lead-time book opens its
  waits with (:func:`forecastscale.policy.leadtimes.wrote`): a target's replicas patched, a MachineDeployment
  pool's nodes patched. Dry-run, fenced and failed writes start nothing. A pod lead closes on the ready count read
  here; a node lead on the pool's Nodes with the Ready condition, as the health watch lists them (pools with
  ``health.enabled``; a pool whose Nodes are not listed has no node lead measured and keeps its prior).
* :func:`export_leads` exports the book (``forecastscale_lead_seconds``, ``forecastscale_lead_samples``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from forecastscale.actuators.base import Outcome
from forecastscale.config import Config, Target, leads
from forecastscale.errors import ForecastscaleError
from forecastscale.policy.leadtimes import Kind, LeadBook, learned
from forecastscale.service.metrics import ServiceMetrics, error_kind
from forecastscale.service.pools import PoolOutcome, TargetOutcome
from forecastscale.sources.prometheus import PrometheusSource
from forecastscale.sources.ready import Workload, ready_replicas

log = logging.getLogger("forecastscale.service")


class ReadyReader:
    """Every target's Ready pods this tick (:meth:`read` once, then :meth:`of` per target)."""

    def __init__(self, config: Config, source: PrometheusSource, metrics: ServiceMetrics) -> None:
        self.query, self.source, self.metrics = config.service.queries.ready_replicas, source, metrics
        self.step = config.service.tick_s
        self.now: dict[Workload, int] = {}
        self.problem: str | None = None  # why nothing was read this tick
        self.falling_back: set[str] = set()  # targets counting existing pods as ready (logged once each)

    def read(self, now: float) -> None:
        """Ask Prometheus (at the last whole tick before ``now``); never raises."""
        self.now, self.problem = {}, None
        if self.query is None:
            self.problem = "service.queries.ready_replicas is null"
            return
        at = datetime.fromtimestamp(math.floor(now / self.step) * self.step, tz=UTC)
        try:
            self.now, problems = ready_replicas(self.source, self.query, at)
        except ForecastscaleError as exc:
            self.metrics.errors.labels(error_kind(exc)).inc()
            self.problem = f"query failed: {exc}"
            return
        for line in problems:
            log.warning("%s", line)

    def of(self, target: Target) -> int | None:
        """``target``'s Ready pods, or None (said once when the fallback starts, and when it ends)."""
        work = target.workload
        ready = self.now.get((work.kind, work.namespace, work.name))
        if ready is None:
            self.metrics.dropped.labels(target.name, "ready_missing").inc()
            if target.name not in self.falling_back:
                self.falling_back.add(target.name)
                why = self.problem or f"no series for {work.kind} {work.namespace}/{work.name}"
                log.warning("target %s: ready replicas not read (%s): counting the pods that exist as ready",
                            target.name, why)
        elif target.name in self.falling_back:
            self.falling_back.discard(target.name)
            log.info("target %s: ready replicas read again", target.name)
        return ready


def writes(config: Config, targets: Sequence[TargetOutcome], pools: Sequence[PoolOutcome]
           ) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """The successful writes of a tick: per target and per MachineDeployment pool (count before, count after)."""
    pods = {o.target: (o.current, o.decision.replicas) for o in targets
            if o.action == Outcome.PATCHED.value and o.current is not None and o.decision is not None}
    nodes = {o.pool: (o.current, o.desired) for o in pools
             if o.action == Outcome.PATCHED.value and o.current is not None
             and config.pool(o.pool).machine_deployment is not None}
    return pods, nodes


def export_leads(metrics: ServiceMetrics, config: Config, book: LeadBook) -> None:
    """Per target its pod leads, per pool its node leads: median, the planned quantile, the lead planned over."""
    for t in config.targets:
        pool = config.pool_for(t)
        planned = learned(t.workload.lead, leads(t, pool), book, t.name, pool.name)
        _export(metrics, book, "pod", t.name, (t.name, ""), t.workload.lead.quantile, planned.pod_s)
        _export(metrics, book, "node", pool.name, ("", pool.name), t.workload.lead.quantile, planned.node_s)


def _export(metrics: ServiceMetrics, book: LeadBook, kind: Kind, name: str, labels: tuple[str, str], q: float,
            planned_s: float) -> None:
    got = book.measured(kind, name)
    metrics.lead_samples.labels(*labels).set(len(got))
    metrics.lead.labels(*labels, "planned").set(planned_s)
    for quantile in sorted({0.5, q}):
        value = book.quantile(kind, name, quantile)
        if value is not None:
            metrics.lead.labels(*labels, f"{quantile:g}").set(value)


def restored(own: LeadBook, saved: LeadBook) -> LeadBook:
    """A new leader's book: the plan's measurements where this replica measured none (a standby writes nothing,
    so measures nothing); its own open waits kept."""
    samples: Mapping[tuple[Kind, str], tuple[float, ...]] = {**saved.samples,
                                                              **{k: v for k, v in own.samples.items() if v}}
    return replace(own, samples=samples)
