"""Lead times learned from what is measured (pure): a rolling book of pod and node leads, and the leads planned over.

A **pod lead** is measured per target from a scale-up's successful write (replicas ``before`` → ``after``) to the
first observation whose *ready* replicas reach ``after`` — unless some pod was seen unschedulable meanwhile
(``pending_replicas``: it waited for a node, which the node lead measures; the live loop cannot see that, so there
a pod lead includes any wait for room); a **node lead** per pool from a node request's successful write to the
first observation whose Ready nodes reach it. A scale-down below an awaited count drops that wait
(those pods will never be Ready); a wait older than :data:`MAX_LEAD_S` is dropped as lost. Each target and pool
keeps its last ``window`` measurements (seconds), and a target with ``workload.lead.learn`` plans over their
``quantile`` (:func:`learned`) once ``min_samples`` exist — the configured constants stay the prior.

The book lives in the fleet's state the caller owns (:class:`~forecastscale.policy.fleet.FleetState`), so the
live tick and the backtest learn with the same code; the live loop persists its samples with the plan.
Times are seconds on the caller's clock (simulated in a backtest); nothing here reads a clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from forecastscale.config import Config, Leads, LeadSettings, NodePool, Target
from forecastscale.config.leadtimes import MAX_LEAD_SAMPLES
from forecastscale.errors import LeadTimeError
from forecastscale.types import Observation, PoolState

Kind = Literal["pod", "node"]
KINDS: tuple[Kind, ...] = ("pod", "node")
MAX_LEAD_S = 86400.0  # a wait longer than a day never arrived (stuck, or its pods replaced): dropped, not measured
MAX_WAITING = 64  # open waits per target or pool: more scale-ups in flight than this drop the oldest
MAX_COUNT = 1_000_000  # replicas or nodes: a larger count is a misread, not a fleet


@dataclass(frozen=True)
class Waiting:
    """A write awaiting readiness: made at ``since_s``, done once ``goal`` pods (or nodes) are Ready."""

    since_s: float
    goal: int
    blocked: bool = False  # some pod waited for room on a node meanwhile: not a pod start-up alone


@dataclass(frozen=True)
class LeadBook:
    """Measured leads (seconds, oldest first) and the waits still open, both by (kind, target or pool name)."""

    samples: Mapping[tuple[Kind, str], tuple[float, ...]] = field(default_factory=dict)
    waiting: Mapping[tuple[Kind, str], tuple[Waiting, ...]] = field(default_factory=dict)

    def wrote(self, kind: Kind, name: str, t: float, before: int, after: int) -> LeadBook:
        """After a successful write at ``t`` from ``before`` to ``after``: a scale-up opens a wait; a scale-down
        drops the waits it made unreachable."""
        t, before, after = _time(t), _count("before", before), _count("after", after)
        key, open_ = (kind, name), self.waiting.get((kind, name), ())
        if after > before:
            open_ = (*open_, Waiting(t, after))[-MAX_WAITING:]
        elif after < before:
            open_ = tuple(w for w in open_ if w.goal <= after)
        return replace(self, waiting={**self.waiting, key: open_})

    def observed(self, kind: Kind, name: str, t: float, ready: int, window: int = MAX_LEAD_SAMPLES,
                 blocked: bool = False) -> LeadBook:
        """At ``t`` ``ready`` pods (or nodes) are Ready: every wait reached is measured (``t − since``); waits
        older than :data:`MAX_LEAD_S` are dropped. Keeps the last ``window`` measurements. ``blocked``: pods wait
        for room on a node now, so the open waits time a node too and are dropped when reached (the node lead is
        measured on its own)."""
        t, ready = _time(t), _count("ready", ready)
        key = (kind, name)
        open_ = self.waiting.get(key, ())
        if not open_:
            return self
        if blocked:
            open_ = tuple(replace(w, blocked=True) for w in open_)
        done = [t - w.since_s for w in open_ if w.goal <= ready and w.since_s <= t and not w.blocked]
        still = tuple(w for w in open_ if w.goal > ready and t - w.since_s <= MAX_LEAD_S)
        kept = (*self.samples.get(key, ()), *done)[-max(1, min(window, MAX_LEAD_SAMPLES)):]
        return LeadBook({**self.samples, key: kept} if done else self.samples, {**self.waiting, key: still})

    def measured(self, kind: Kind, name: str) -> tuple[float, ...]:
        """The leads measured for ``name`` (seconds, oldest first)."""
        return self.samples.get((kind, name), ())

    def quantile(self, kind: Kind, name: str, q: float, window: int = MAX_LEAD_SAMPLES) -> float | None:
        """The ``q`` quantile of the last ``window`` leads measured (seconds); None before the first."""
        if not 0 <= q <= 1:
            raise LeadTimeError(f"quantile: must be within [0, 1], got {q!r}")
        got = self.measured(kind, name)[-max(1, window):]
        return _linear(sorted(got), q) if got else None

    def with_samples(self, kind: Kind, name: str, samples: tuple[float, ...]) -> LeadBook:
        """The book with ``name``'s measurements replaced (a plan read back), each checked."""
        checked = tuple(_lead(s) for s in samples[-MAX_LEAD_SAMPLES:])
        return replace(self, samples={**self.samples, (kind, name): checked})


def learned(settings: LeadSettings, prior: Leads, book: LeadBook, target: str, pool: str) -> Leads:
    """The leads ``target`` plans over on ``pool``: with ``settings.learn`` each side's measured quantile once it
    has ``min_samples`` measurements (at most ``ceiling`` × the prior), else the prior."""
    if not settings.learn:
        return prior
    return Leads(pod_s=_pick(settings, book, "pod", target, prior.pod_s),
                 node_s=_pick(settings, book, "node", pool, prior.node_s))


def _pick(settings: LeadSettings, book: LeadBook, kind: Kind, name: str, prior_s: float) -> float:
    if len(book.measured(kind, name)[-settings.window:]) < settings.min_samples:
        return prior_s
    value = book.quantile(kind, name, settings.quantile, settings.window)
    assert value is not None
    return min(value, prior_s * settings.ceiling) if prior_s > 0 else value


def _linear(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of ``ordered`` (ascending, not empty), interpolated linearly as numpy's default: plain
    Python, as numpy's call overhead dominated a backtest step."""
    at = q * (len(ordered) - 1)
    lo = math.floor(at)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (at - lo)


def _time(t: float) -> float:
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        raise LeadTimeError(f"t: must be a finite number of seconds, got {t!r}")
    return float(t)


def _count(what: str, n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_COUNT:
        raise LeadTimeError(f"{what}: must be a whole count within [0, {MAX_COUNT}], got {n!r}")
    return n


def _lead(s: float) -> float:
    if isinstance(s, bool) or not isinstance(s, int | float) or not 0 <= s <= MAX_LEAD_S:
        raise LeadTimeError(f"lead: must be seconds within [0, {MAX_LEAD_S:g}], got {s!r}")
    return float(s)


def observe(config: Config, book: LeadBook, obs: Mapping[str, Observation], pools: Mapping[str, PoolState],
            t: float) -> LeadBook:
    """``book`` after this tick's readiness: each target's ready pods (where measured, not the written count) and
    each read pool's Ready nodes close the waits they reached."""
    window = max((tg.workload.lead.window for tg in config.targets), default=MAX_LEAD_SAMPLES)
    for name, o in obs.items():
        if o.ready_measured:  # pods unschedulable now wait for a node: that wait is not a pod's start-up
            book = book.observed("pod", name, o.t, o.ready_replicas, window, blocked=o.pending_replicas > 0)
    for name, p in pools.items():
        if p.read and p.nodes_ready is not None:
            book = book.observed("node", name, t, p.nodes_ready, window)
    return book


def pool_lead_s(config: Config, book: LeadBook, pool: NodePool) -> float:
    """The node lead (seconds) of ``pool``: measured, as the first target on it that learns its leads plans over
    it, else the prior ``node_startup_s``."""
    for target in config.targets:
        if target.workload.lead.learn and config.pool_for(target).name == pool.name:
            return _pick(target.workload.lead, book, "node", pool.name, pool.node_startup_s)
    return pool.node_startup_s


def planned(config: Config, book: LeadBook, obs: Observation, target: Target) -> Observation:
    """``obs`` with the leads ``target`` plans over, where it learns them (else unchanged: the config's)."""
    if not target.workload.lead.learn:
        return obs
    lead = learned(target.workload.lead, config.leads(target), book, target.name, config.pool_for(target).name)
    return replace(obs, pod_lead_s=lead.pod_s, node_lead_s=lead.node_s)


def wrote(book: LeadBook, t: float, pods: Mapping[str, tuple[int, int]], nodes: Mapping[str, tuple[int, int]]
          ) -> LeadBook:
    """``book`` after the writes made at ``t``: per target and per pool (count before, count after)."""
    for name, (before, after) in pods.items():
        book = book.wrote("pod", name, t, before, after)
    for name, (before, after) in nodes.items():
        book = book.wrote("node", name, t, before, after)
    return book
