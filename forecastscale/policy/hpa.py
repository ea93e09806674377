"""The Kubernetes HPA v2 replica calculator, for a utilisation metric over ready replicas.

Pure: same inputs, same answer. Follows ``GetResourceReplicas`` in
kubernetes/pkg/controller/podautoscaler/replica_calculator.go; every branch says which.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# ceil() of a ratio that is an integer up to float noise must not round up a whole replica.
_EPS = 1e-9


@dataclass(frozen=True)
class HpaInput:
    """One tick's view: replica counts (pods) and demand (target units per second)."""

    current_replicas: int  # spec.replicas
    ready_replicas: int
    unready_replicas: int  # starting or pending: no usable metric yet
    demand: float
    capacity_per_replica: float
    target_utilisation: float  # fraction in (0, 1]
    tolerance: float


def _ceil(x: float) -> int:
    return math.ceil(x - _EPS)


def recommend(inp: HpaInput) -> tuple[int, str]:
    """Desired replicas before behaviour and bounds, and a message with the numbers."""
    cap = inp.capacity_per_replica * inp.target_utilisation  # demand per replica at target
    ready = inp.ready_replicas
    if ready == 0:
        # No pod reports a metric. The HPA errors out and keeps the count; we do the same,
        # except that demand with no ready pod at all is an obvious scale-up.
        need = _ceil(inp.demand / cap) if inp.demand > 0 else inp.current_replicas
        return max(inp.current_replicas, need), f"no ready replicas, demand {inp.demand:.3g}"
    ratio = inp.demand / (ready * cap)
    util = f"utilisation {ratio * inp.target_utilisation:.0%} of {ready} ready vs target {inp.target_utilisation:.0%}"
    if inp.unready_replicas == 0 or ratio <= 1.0:
        # Every pod has a metric (or we scale down, where unready pods are simply ignored).
        if abs(1.0 - ratio) <= inp.tolerance:
            return inp.current_replicas, f"{util}: within tolerance"
        return _ceil(ratio * ready), util
    # Scale-up with unready pods: they count as 0 % so that pods still starting are not
    # double-counted (replica_calculator.go: scaleUpWithUnready).
    total = ready + inp.unready_replicas
    new_ratio = inp.demand / (total * cap)
    if abs(1.0 - new_ratio) <= inp.tolerance or new_ratio < 1.0:
        return inp.current_replicas, f"{util}; {inp.unready_replicas} unready pods cover it"
    desired = _ceil(new_ratio * total)
    if desired < inp.current_replicas:
        return inp.current_replicas, f"{util}; would reverse direction, kept"
    return desired, f"{util}; {inp.unready_replicas} unready counted at 0 %"
