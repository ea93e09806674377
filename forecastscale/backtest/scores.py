"""Scores of one backtest run, computed over the scored steps (after warm-up)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from forecastscale.types import FloatArray

SCORE_NAMES = (
    "gpu_hours", "cost", "underprovisioned_pct", "unserved_pct",
    "mean_utilisation", "scale_events", "node_events",
)


@dataclass(frozen=True)
class Scores:
    """GPU-hours (node GPUs × hours, starting nodes included), cost in the pool's currency,
    under-provisioned steps and unserved demand in percent, utilisation of ready capacity
    (served ÷ capacity, 0–1), and counts of replica and node-count changes."""

    gpu_hours: float
    cost: float
    underprovisioned_pct: float
    unserved_pct: float
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
    nodes: FloatArray, step_s: float, start: int, gpu_hour_cost: float,
) -> Scores:
    """Scores over steps ``start:``; every array holds one value per decision step."""
    d, cap = demand[start:], capacity[start:]
    served = np.minimum(d, cap)
    gpu_hours = float(gpus[start:].sum() * step_s / 3600.0)
    total = float(d.sum())
    return Scores(
        gpu_hours=gpu_hours,
        cost=gpu_hours * gpu_hour_cost,
        underprovisioned_pct=float(100.0 * np.mean(d > cap + 1e-9)) if len(d) else 0.0,
        unserved_pct=100.0 * float((d - served).sum()) / total if total > 0 else 0.0,
        mean_utilisation=float(served.sum() / cap.sum()) if cap.sum() > 0 else 0.0,
        scale_events=_changes(replicas, start),
        node_events=_changes(nodes, start),
    )
