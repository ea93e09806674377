"""Core value types shared by every layer (no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
# Demand above ready capacity by more than float noise (demand units/s): the one under-provisioning rule, used
# alike by the backtest's scores and plots, the replay's OpenMetrics and the live export, so the dashboards
# compare like with like.
UNDER_EPS = 1e-9


def underprovisioned(demand: FloatArray | float, capacity: FloatArray | float) -> npt.NDArray[np.bool_]:
    """Whether ``demand`` exceeds ready ``capacity`` (both demand units/s; arrays compare element-wise)."""
    return np.greater(demand, np.add(capacity, UNDER_EPS))


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


@dataclass(frozen=True, kw_only=True)
class Observation:
    """What a policy may know about one target at decision time ``t`` (seconds since the run started).

    ``demand_history`` holds demand per decision step up to the last *completed* step
    (``t - step_s``): the metric a controller scrapes is always one step old.
    Replica counts are pods. Node pools are the fleet's concern (:class:`PoolState`).
    """

    t: float
    step_s: float
    demand_history: FloatArray
    current_replicas: int  # spec.replicas, as the last decision set it
    ready_replicas: int
    starting_replicas: int = 0  # bound to a node, loading (not ready yet)
    pending_replicas: int = 0  # unschedulable: waiting for a node with free GPUs
    # Absolute index of demand_history[0] on the grid of step_s: 0 in a backtest; in the live
    # loop the step number since the epoch, so fits line up with the clock as the window slides.
    history_offset: int = 0
    # UNIX seconds at t (cron schedules need the wall clock; None: no schedule can apply).
    wall_s: float | None = None
    # Requests waiting now, GPU utilisation and KV cache in use (%, 0–100) averaged over ready pods;
    # None = not measured.
    queue: float | None = None
    gpu_utilisation: float | None = None
    kv_cache: float | None = None
    # Announced events (webhook) for this target, pre-warmed already; cron schedules come from config.
    events: tuple[Window, ...] = ()
    # False: ready_replicas is the written count (readiness could not be read), not a measurement.
    ready_measured: bool = True
    # Lead times to plan over (seconds) where the target learns them (forecastscale.policy.leadtimes); None: the
    # config's pod_startup_s and its pool's node_startup_s.
    pod_lead_s: float | None = None
    node_lead_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class PoolState:
    """A node pool as read now (nodes): ``ready`` and ``starting`` (asked for, not Ready yet), GPUs on its nodes
    that cannot be counted on (unhealthy, NotReady, cordoned), and whether it could be read at all (an unread
    pool is never resized blind)."""

    ready: int = 0
    starting: int = 0
    lost_gpus: int = 0
    read: bool = True
    # Nodes whose Ready condition is True, as listed (the node lead is timed on it); None: not listed. A backend's
    # own count (a MachineDeployment's replicas) says Machines exist, not that their nodes are Ready.
    nodes_ready: int | None = None

    @property
    def nodes(self) -> int:
        """Nodes asked for: ready and starting."""
        return self.ready + self.starting


class Source(StrEnum):
    """What a target's replicas came from: the first part of :attr:`Decision.reason`."""

    FORECAST = "forecast"  # the forecast over the lead time at the configured quantile
    REACTIVE = "reactive"  # the HPA calculator on the default demand rule
    RULE = "rule"  # an HPA metric rule of the target (queue, GPU utilisation, a demand target of its own)
    EVENT = "event"  # a cron or announced event's floor
    BURST = "burst"  # panic mode: the observed need, up at once
    SHADOW = "shadow"  # the forecast guardrail fell back: a shadow forecaster (seasonal_naive or persistence, named
    # in the message) or the last demand × (1 + guardrail.reactive_margin) stands in for a model found worse
    WAKE = "wake"  # min_replicas 0: woken from zero to one replica (demand or queue > 0, or demand forecast)
    FALLBACK = "fallback"  # no data for fallback_after_ticks: max(fallback_replicas, current)
    HOLD = "hold"  # no usable data this tick: kept as it is
    ORACLE = "oracle"  # perfect foresight (backtest only)


class Limit(StrEnum):
    """What cut or moved a source's replicas, in the order applied: the rest of :attr:`Decision.reason`."""

    STABILISED = "stabilised"  # HPA stabilisation window
    RATE_UP = "rate:up"  # HPA scale-up policies
    RATE_DOWN = "rate:down"  # HPA scale-down policies
    BOUND_MIN = "bound:min"
    BOUND_MAX = "bound:max"
    BOUND_RANGE = "bound:range"  # current replicas out of [min, max]: moved straight into range
    CAPPED_SHARE = "capped:share"  # a full pool shared out: fewer replicas than wanted
    SPILLED = "spilled"  # some pods placed in a pool other than the target's own
    STOCKOUT = "stockout"  # own pool stocked out: held at its Ready nodes, the shortfall on an alternative (if any)


@dataclass(frozen=True, kw_only=True)
class Outlook:
    """The forecast a decision rests on: demand (target units/s) ``horizon_s`` ahead at ``quantile``."""

    horizon_s: float
    quantile: float
    demand: float


@dataclass(frozen=True, kw_only=True)
class SloStatus:
    """Where an SLO-calibrated target stands: its margin (band widths above the median), the quantile that margin
    amounts to (Gaussian reading, for display), the measured share of steps (or demand) missing the SLO and the
    share it may miss (both 0–1)."""

    margin: float
    level: float
    measured: float | None
    aim: float


@dataclass(frozen=True, kw_only=True)
class GuardrailStatus:
    """The forecast guardrail after a tick: what provisions now (``model``, ``seasonal_naive``, ``persistence`` or
    ``reactive``), the switch made this tick with its reason (None: no switch), and per forecaster (``model`` and
    the shadows) its rolling pinball loss at the configured quantile (demand units/s) and its coverage of that
    quantile (0–1), where scored."""

    active: str
    switch: str | None = None
    pinball: Mapping[str, float] = field(default_factory=dict)
    coverage: Mapping[str, float] = field(default_factory=dict)

    @property
    def fallen_back(self) -> bool:
        """Whether a stand-in provisions instead of the model."""
        return self.active != "model"


@dataclass(frozen=True, kw_only=True)
class Decision:
    """A target's replicas for one tick, and why.

    :attr:`reason` is derived from a fixed vocabulary: the :class:`Source` that won, then each
    :class:`Limit` that applied (``forecast/rate:up``, ``reactive/stabilised/capped:share``);
    ``message`` explains it with numbers.
    """

    replicas: int
    source: Source
    limits: tuple[Limit, ...] = ()
    message: str = ""
    # Replicas each source asked for before behaviour and bounds ("forecast", "reactive", ...).
    candidates: Mapping[str, int] = field(default_factory=dict)
    # Highest forecast demand within each look-ahead (seconds → demand units), when there is one.
    forecast: Mapping[float, float] = field(default_factory=dict)
    # Pods the node pools must hold by the time a node asked for now is Ready (None: ``replicas``).
    pods_ahead: int | None = None
    # Forecast values at the pod and node leads (median and configured quantile), for export and scoring.
    outlook: tuple[Outlook, ...] = ()
    surprise: float | None = None  # last demand / its forecast upper quantile
    panic: bool = False  # burst (panic) mode holds the target
    model: str | None = None  # the forecaster in use
    slo: SloStatus | None = None  # with targets[].slo: the calibration's state after this tick
    guardrail: GuardrailStatus | None = None  # with guardrail.enabled: the shadow scores and what provisions

    @property
    def reason(self) -> str:
        """``source[/limit…]``, e.g. ``reactive/stabilised``."""
        return "/".join([self.source.value, *(limit.value for limit in self.limits)])

    @property
    def planned(self) -> int:
        """Pods the pools must hold once a node asked for now is Ready."""
        return max(self.replicas, self.pods_ahead or 0)


@dataclass(frozen=True)
class NodeHealth:
    """One node as observed now: readiness, cordon, GPU count, indices (0-based) of unhealthy GPUs."""

    node: str
    pool: str
    ready: bool
    cordoned: bool
    gpus: int
    unhealthy_gpus: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        bad = sorted(i for i in self.unhealthy_gpus if not 0 <= i < self.gpus)
        if self.gpus < 0 or bad:
            raise ValueError(f"node {self.node}: {self.gpus} GPUs, unhealthy indices out of range: {bad}")
