"""Scores of one backtest run, computed over the scored steps (after warm-up)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from forecastscale.backtest.queueing import serve
from forecastscale.types import FloatArray, underprovisioned

SCORE_NAMES = (
    "gpu_hours", "cost", "underprovisioned_pct", "unserved_pct", "queued_pct", "p99_wait_s",
    "mean_utilisation", "scale_events", "node_events",
)


@dataclass(frozen=True)
class Scores:
    """GPU-hours (node GPUs × hours, starting nodes included), cost in the pool's currency,
    under-provisioned steps in percent, the queue's dropped and queued shares of demand in
    percent and the 99th-percentile wait of served demand in seconds (see ``queueing``),
    utilisation of ready capacity (demand served at once ÷ capacity, 0–1), and counts of
    replica and node-count changes."""

    gpu_hours: float
    cost: float
    underprovisioned_pct: float
    unserved_pct: float
    queued_pct: float
    p99_wait_s: float
    mean_utilisation: float
    scale_events: int
    node_events: int

    def as_dict(self) -> dict[str, float | int]:
        """The scores by name (the JSON report's shape)."""
        return asdict(self)


def _changes(x: FloatArray, start: int) -> int:
    # A change at the first scored step counts: it is a decision made in the scored span.
    lo = max(start, 1)
    return int(np.count_nonzero(x[lo:] != x[lo - 1: -1]))


def score(
    demand: FloatArray, capacity: FloatArray, gpus: FloatArray, replicas: FloatArray,
    nodes: FloatArray, step_s: float, start: int, gpu_hour_cost: float, max_wait_s: float = 60.0,
) -> Scores:
    """Scores over steps ``start:``; every array holds one value per decision step."""
    d, cap = demand[start:], capacity[start:]
    served = np.minimum(d, cap)
    gpu_hours = float(gpus[start:].sum() * step_s / 3600.0)
    queue = serve(demand, capacity, step_s, start, max_wait_s)
    return Scores(
        gpu_hours=gpu_hours,
        cost=gpu_hours * gpu_hour_cost,
        underprovisioned_pct=float(100.0 * np.mean(underprovisioned(d, cap))) if len(d) else 0.0,
        unserved_pct=queue.unserved_pct,
        queued_pct=queue.queued_pct,
        p99_wait_s=queue.p99_wait_s,
        mean_utilisation=float(served.sum() / cap.sum()) if cap.sum() > 0 else 0.0,
        scale_events=_changes(replicas, start),
        node_events=_changes(nodes, start),
    )
