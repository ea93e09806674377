"""Queue-aware serving: what share of demand is dropped, queued, and how long served work waits.

Inference requests wait for a free replica rather than failing at once, so demand above capacity
is not simply lost. The model (pure, deterministic):

* Work is a fluid. Each decision step of ``step_s`` seconds is split into
  ``m = max(1, ceil(step_s / resolution_s))`` sub-steps of ``h = step_s / m`` seconds; demand and
  capacity (units/s) hold over the whole step. Arrivals in a sub-step count as arriving at its start.
* Each sub-step ``j``: drop backlog that arrived in sub-step ``a`` with ``(j - a) * h > max_wait_s``;
  capacity (``capacity * h`` units) serves the backlog oldest first, then this sub-step's arrivals;
  the rest of those arrivals joins the backlog. Served work waited ``(j - a) * h`` seconds.
* A step with no backlog and demand <= capacity serves everything at wait 0 without sub-stepping.
* The queue runs from step 0; only arrivals in steps ``>= start`` are counted. The service outlives
  the trace: backlog left at the end is served by the last step's capacity (no new arrivals) until
  it is served or dropped, so every counted unit ends up served or dropped.
* ``p99_wait_s`` is the amount-weighted 99th percentile of wait over served units: the smallest
  wait ``w`` such that served units with wait <= ``w`` make up at least 99 % of served units.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from forecastscale.types import FloatArray

# Relative slack for float sums compared with a share (99 % of 100 units summed in pieces
# may come out a hair under 99); far below any amount that matters.
_REL_TOL = 1e-12


@dataclass(frozen=True)
class ServeStats:
    """Counted (scored-span) arrivals in units (rate × seconds), shares in percent, wait in seconds."""

    arrived: float
    dropped: float
    queued: float  # entered the backlog at all, later served or dropped
    unserved_pct: float
    queued_pct: float
    p99_wait_s: float


def weighted_quantile(values: FloatArray, weights: FloatArray, q: float) -> float:
    """Smallest ``v`` in ``values`` whose cumulative weight (values <= v) is >= ``q`` of the total.

    ``q`` in (0, 1]; weights >= 0 with a positive total. This is the lower (inverted-CDF)
    definition: it always returns one of ``values``, never an interpolation.
    """
    if not 0.0 < q <= 1.0:
        raise ValueError(f"q must be in (0, 1], got {q}")
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    if len(cum) == 0 or cum[-1] <= 0.0:
        raise ValueError("weights must have a positive total")
    idx = int(np.searchsorted(cum, q * cum[-1] * (1.0 - _REL_TOL), side="left"))
    return float(values[order][min(idx, len(cum) - 1)])


@dataclass
class _Queue:
    """FIFO fluid backlog and tallies of counted work (units); ages are whole sub-steps.

    Arrivals that never enter the backlog are served at wait 0; they are not tracked here but
    found at the end as arrived − queued, which lets steps without backlog skip this class.
    """

    max_age: int  # oldest age (sub-steps) still served; older backlog is dropped
    first_counted: int  # first sub-step whose arrivals are counted
    backlog: deque[list[float]] = field(default_factory=deque)  # [arrival sub-step, units], oldest first
    dropped: float = 0.0
    queued: float = 0.0
    waits: dict[int, float] = field(default_factory=dict)  # age >= 1 sub-step -> counted units served

    def substep(self, j: int, arrivals: float, cap: float) -> None:
        """Sub-step ``j``: drop expired backlog, serve oldest first, queue what is left (units)."""
        backlog = self.backlog
        while backlog and j - backlog[0][0] > self.max_age:
            a, units = backlog.popleft()
            if a >= self.first_counted:
                self.dropped += units
        while backlog and cap > 0.0:
            item = backlog[0]
            served = min(item[1], cap)
            if item[0] >= self.first_counted:
                age = j - int(item[0])
                self.waits[age] = self.waits.get(age, 0.0) + served
            cap -= served
            if served == item[1]:
                backlog.popleft()
            else:
                item[1] -= served
        rest = arrivals - min(arrivals, cap)
        if rest > 0.0:
            backlog.append([j, rest])
            if j >= self.first_counted:
                self.queued += rest

    def step(self, i: int, m: int, h: float, rate: float, cap_rate: float) -> None:
        """Decision step ``i`` as ``m`` sub-steps of ``h`` s at ``rate`` and ``cap_rate`` units/s."""
        for k in range(m):
            if not self.backlog and rate <= cap_rate:
                return  # the rest of the step is served at once, as on the fast path
            self.substep(i * m + k, rate * h, cap_rate * h)

    def flush(self, j: int, cap: float) -> None:
        """From sub-step ``j`` on, serve the backlog with ``cap`` units per sub-step and no arrivals."""
        if cap <= 0.0 and self.backlog:
            # Nothing will be served again: jump to where the newest backlog is too old.
            j = max(j, int(self.backlog[-1][0]) + self.max_age + 1)
        while self.backlog:  # ends: each sub-step serves cap > 0 or drops all
            self.substep(j, 0.0, cap)
            j += 1


def _check(demand: FloatArray, capacity: FloatArray, step_s: float, start: int, max_wait_s: float,
           resolution_s: float) -> None:
    if demand.ndim != 1 or capacity.ndim != 1:
        raise ValueError(f"demand and capacity must be 1-D, got shapes {demand.shape} and {capacity.shape}")
    if len(demand) != len(capacity):
        raise ValueError(f"demand and capacity lengths differ: {len(demand)} != {len(capacity)}")
    for name, x in (("demand", demand), ("capacity", capacity)):
        if not np.all(np.isfinite(x)) or np.any(x < 0):
            raise ValueError(f"{name} must be finite and >= 0")
    if not step_s > 0 or not resolution_s > 0:  # `not >` also rejects NaN
        raise ValueError(f"step_s and resolution_s must be > 0, got {step_s} and {resolution_s}")
    if not max_wait_s >= 0:
        raise ValueError(f"max_wait_s must be >= 0, got {max_wait_s}")
    if not 0 <= start <= len(demand):
        raise ValueError(f"start must be in [0, {len(demand)}], got {start}")


def serve(demand: FloatArray, capacity: FloatArray, step_s: float, start: int = 0, max_wait_s: float = 60.0,
          resolution_s: float = 5.0) -> ServeStats:
    """Serve ``demand`` (units/s per step) with ``capacity`` (units/s per step) through a FIFO queue.

    ``step_s`` is the decision step in seconds; arrivals in steps ``start:`` are counted;
    work waiting longer than ``max_wait_s`` seconds is dropped; ``resolution_s`` is the
    longest sub-step in seconds. See the module docstring for the model.
    """
    demand, capacity = np.asarray(demand, dtype=float), np.asarray(capacity, dtype=float)
    _check(demand, capacity, step_s, start, max_wait_s, resolution_s)
    m = max(1, math.ceil(step_s / resolution_s))
    h = step_s / m
    # Ages are compared in whole sub-steps; the slack keeps 0.3 s / 0.1 s (2.999… in floats) at 3.
    max_age = math.floor(max_wait_s / h + 1e-9) if math.isfinite(max_wait_s) else len(demand) * m
    queue = _Queue(max_age=max_age, first_counted=start * m)
    # Python floats: element access on numpy arrays costs more than the arithmetic here.
    for i, (rate, cap_rate) in enumerate(zip(demand.tolist(), capacity.tolist(), strict=True)):
        if queue.backlog or rate > cap_rate:  # else the fast path: all served at once, nothing to track
            queue.step(i, m, h, rate, cap_rate)
    if len(capacity):
        queue.flush(len(capacity) * m, float(capacity[-1]) * h)
    return _stats(queue, float(demand[start:].sum()) * step_s, h)


def _stats(queue: _Queue, arrived: float, h: float) -> ServeStats:
    if arrived <= 0.0:
        return ServeStats(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    # Counted units that never queued were served at wait 0 (max: float residue when all queued).
    waits = {0: max(arrived - queue.queued, 0.0)} | queue.waits
    ages, served = np.array(list(waits), dtype=float), np.array(list(waits.values()))
    # Everything dropped: no served unit to take a wait from.
    p99 = weighted_quantile(ages, served, 0.99) * h if served.sum() > 0.0 else 0.0
    return ServeStats(
        arrived=arrived, dropped=queue.dropped, queued=queue.queued,
        unserved_pct=100.0 * queue.dropped / arrived, queued_pct=100.0 * queue.queued / arrived,
        p99_wait_s=p99,
    )
