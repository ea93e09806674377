"""Core value types shared by every layer (no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Forecast:
    """A forecast of ``h`` steps: the point (``mean``) and one array per requested quantile.

    Every array has length ``h``; index 0 is the first step after the last fitted sample.
    """

    mean: FloatArray
    quantiles: dict[float, FloatArray] = field(default_factory=dict)

    def quantile(self, q: float) -> FloatArray:
        """The ``q`` quantile path; ``KeyError`` names the quantiles that exist."""
        try:
            return self.quantiles[q]
        except KeyError:
            raise KeyError(f"quantile {q} not forecast; have {sorted(self.quantiles)}") from None


@dataclass(frozen=True)
class Window:
    """Replicas floored at ``min_replicas`` or at ``multiplier`` × recommendation during ``[start_s, end_s)``.

    ``source`` says where the window comes from (``cron:<name>`` or ``webhook:<id>``), ``reason`` why."""

    start_s: float
    end_s: float
    min_replicas: int | None
    multiplier: float | None
    source: str
    reason: str

    def __post_init__(self) -> None:
        if (self.min_replicas is None) == (self.multiplier is None):
            raise ValueError(f"window {self.source}: need exactly one of min_replicas or multiplier")
        if self.end_s < self.start_s:
            raise ValueError(f"window {self.source}: ends ({self.end_s}) before it starts ({self.start_s})")

    def active(self, t: float) -> bool:
        """Whether the floor applies at ``t`` (start inclusive, end exclusive)."""
        return self.start_s <= t < self.end_s


@dataclass(frozen=True)
class Observation:
    """What a policy may know at decision time ``t`` (seconds since the run started).

    ``demand_history`` holds demand per decision step up to the last *completed* step
    (``t - step_s``): the metric a controller scrapes is always one step old.
    Replica counts are pods; node counts are nodes of the target's pool.
    """

    t: float
    step_s: float
    demand_history: FloatArray
    current_replicas: int  # spec.replicas, as the last decision set it
    ready_replicas: int
    starting_replicas: int  # bound to a node, loading (not ready yet)
    pending_replicas: int  # unschedulable: waiting for a node with free GPUs
    nodes_ready: int
    nodes_starting: int
    # Absolute index of demand_history[0] on the grid of step_s: 0 in a backtest; in the live
    # loop the step number since the epoch, so fits line up with the clock as the window slides.
    history_offset: int = 0
    # UNIX seconds at t (cron schedules need the wall clock; None: no schedule can apply).
    wall_s: float | None = None
    # Requests waiting now, and GPU utilisation (%) averaged over ready pods; None = not measured.
    queue: float | None = None
    gpu_utilisation: float | None = None
    # Announced events (webhook) for this target, pre-warmed already; cron schedules come from config.
    events: tuple[Window, ...] = ()


@dataclass(frozen=True)
class Decision:
    """A policy's answer for one tick: replicas and nodes wanted now, and why.

    ``reason`` is a short machine-readable tag: the source that won (``forecast``,
    ``reactive``, ``oracle``), then ``/`` and what behaviour or bounds did to it, if anything
    (``forecast/rate:up``, ``reactive/stabilised``, ``reactive/bound:max``); ``message``
    explains it with numbers.
    """

    replicas: int
    nodes: int
    reason: str
    message: str
    # Replicas each source asked for before behaviour and bounds ("forecast", "reactive", ...).
    candidates: Mapping[str, int] = field(default_factory=dict)
    # Highest forecast demand within each look-ahead (seconds → demand units), when there is one.
    forecast: Mapping[float, float] = field(default_factory=dict)
    # Pods the node pool must hold by the time a node asked for now is Ready (None: ``replicas``).
    pods_ahead: int | None = None
