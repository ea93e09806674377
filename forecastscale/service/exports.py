"""What a tick tells the world about one target besides its metrics: the decision line, and ready capacity."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from forecastscale.actuators.base import ScaleState
from forecastscale.config import Target
from forecastscale.service.metrics import ServiceMetrics
from forecastscale.service.pools import TargetOutcome
from forecastscale.types import underprovisioned

decisions_log = logging.getLogger("forecastscale.decisions")


def export_capacity(metrics: ServiceMetrics, target: Target, scale: ScaleState, demand: float | None,
                    tick_s: float, ready: int | None = None) -> None:
    """Ready capacity (ready replicas × capacity_per_replica, demand units/s) and whether demand is above it;
    under-provisioned seconds grow by ``tick_s`` per tick above it. ``ready``: the Ready pods as read (None: the
    pods that exist count as ready)."""
    name = target.name
    ready = min(scale.status_replicas, scale.spec_replicas) if ready is None else min(ready, scale.spec_replicas)
    capacity = ready * target.workload.capacity_per_replica
    metrics.ready_capacity.labels(name).set(capacity)
    under = metrics.under_s.labels(name)  # the series exists from the first tick, at 0
    if demand is None:
        return  # no sample: neither under- nor over-provisioned is known
    short = bool(underprovisioned(demand, capacity))
    metrics.under.labels(name).set(1 if short else 0)
    if short:
        under.inc(tick_s)


def log_outcome(o: TargetOutcome, side: Mapping[str, float]) -> None:
    """One JSON line per target per tick (JSON escapes control characters: a line stays one line)."""
    d = o.decision
    record = {
        "target": o.target, "status": o.status, "action": o.action, "demand": o.demand, "current": o.current,
        "desired": d.replicas if d else None, "pods_ahead": d.pods_ahead if d else None,
        "reason": d.reason if d else None, "candidates": dict(d.candidates) if d else {},
        "forecast": {f"{h:g}s": round(v, 4) for h, v in d.forecast.items()} if d else {},
        **side, "message": o.error or (d.message if d else ""),
    }
    decisions_log.info(json.dumps(record, ensure_ascii=False))
