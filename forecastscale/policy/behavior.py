"""HPA v2 ``behavior``: stabilisation windows, rate policies and bounds, on explicit history.

Pure functions over :class:`BehaviorHistory` (what the HPA controller keeps in memory:
past recommendations and past scale events), following ``normalizeDesiredReplicasWithBehaviors``
in kubernetes/pkg/controller/podautoscaler/horizontal.go. Times are seconds.

As in the HPA controller, :func:`normalize` records the recommendation but never a scale event:
the caller records one (:meth:`BehaviorHistory.scaled`) only once the change was made — written
to the API server (live) or applied (simulator). A standby's or a failed write's change did not
happen and must not use up the rate limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from forecastscale.config import Behavior, ScalingRules
from forecastscale.types import Limit


@dataclass(frozen=True)
class BehaviorHistory:
    """Past raw recommendations ``(t, replicas)`` and scale events ``(t, change)``."""

    recommendations: tuple[tuple[float, int], ...] = ()
    events: tuple[tuple[float, int], ...] = ()

    def scaled(self, t: float, change: int) -> BehaviorHistory:
        """With the scale event ``change`` (replicas, signed) made at ``t``; unchanged if ``change`` is 0."""
        return self if change == 0 else BehaviorHistory(self.recommendations, (*self.events, (t, change)))


@dataclass(frozen=True)
class Normalized:
    """The replica count after behaviour and bounds; ``limits`` names what cut it, if anything."""

    replicas: int
    limits: tuple[Limit, ...]
    history: BehaviorHistory


def _stabilize(
    desired: int, current: int, t: float, history: BehaviorHistory, behavior: Behavior
) -> tuple[int, tuple[tuple[float, int], ...]]:
    up_cut = t - behavior.scale_up.stabilization_window_seconds
    down_cut = t - behavior.scale_down.stabilization_window_seconds
    up_rec = down_rec = desired
    for ts, rec in history.recommendations:
        if ts > up_cut:  # scale-up: the lowest recommendation in the window
            up_rec = min(up_rec, rec)
        if ts > down_cut:  # scale-down: the highest recommendation in the window
            down_rec = max(down_rec, rec)
    stabilized = min(max(current, up_rec), down_rec)
    keep_after = min(up_cut, down_cut)
    recs = (*(r for r in history.recommendations if r[0] > keep_after), (t, desired))
    return stabilized, recs


def _changed_in_period(events: tuple[tuple[float, int], ...], t: float, period: int, up: bool) -> int:
    cutoff = t - period
    return sum(abs(c) for ts, c in events if ts > cutoff and (c > 0) == up)


def _limit(current: int, t: float, events: tuple[tuple[float, int], ...], rules: ScalingRules, up: bool) -> int:
    """``calculateScaleUpLimitWithScalingRules`` / ``calculateScaleDownLimitWithBehaviors``."""
    if rules.select_policy == "Disabled":
        return current
    proposals = []
    for p in rules.policies:
        added = _changed_in_period(events, t, p.period_seconds, up=True)
        deleted = _changed_in_period(events, t, p.period_seconds, up=False)
        start = current - added + deleted  # replicas at the start of the period
        if up:
            proposals.append(start + p.value if p.type == "Pods" else math.ceil(start * (1 + p.value / 100)))
        else:
            proposals.append(start - p.value if p.type == "Pods" else int(start * (1 - p.value / 100)))
    # "Max" selects the policy allowing the biggest change: highest when up, lowest when down.
    biggest = (max if up else min)(proposals)
    smallest = (min if up else max)(proposals)
    return biggest if rules.select_policy == "Max" else smallest


def _rate_and_bounds(
    desired: int, current: int, t: float, events: tuple[tuple[float, int], ...],
    behavior: Behavior, min_r: int, max_r: int,
) -> tuple[int, Limit | None]:
    if desired > current:
        limit = max(_limit(current, t, events, behavior.scale_up, up=True), current)
        if limit < max_r:
            return (limit, Limit.RATE_UP) if desired > limit else (desired, None)
        return (max_r, Limit.BOUND_MAX) if desired > max_r else (desired, None)
    if desired < current:
        limit = min(_limit(current, t, events, behavior.scale_down, up=False), current)
        if limit > min_r:
            return (limit, Limit.RATE_DOWN) if desired < limit else (desired, None)
        return (min_r, Limit.BOUND_MIN) if desired < min_r else (desired, None)
    return desired, None


def normalize(
    desired: int, current: int, t: float, history: BehaviorHistory,
    behavior: Behavior, min_replicas: int, max_replicas: int,
) -> Normalized:
    """Apply stabilisation, then rate policies and ``[min_replicas, max_replicas]``; record the
    recommendation (not the scale event: see the module docstring)."""
    if current > max_replicas or current < min_replicas:
        # Out of range (e.g. bounds changed): the HPA moves straight into range.
        replicas = min(max(current, min_replicas), max_replicas)
        limits: tuple[Limit, ...] = (Limit.BOUND_RANGE,)
        recs = (*history.recommendations, (t, desired))
    else:
        stabilized, recs = _stabilize(desired, current, t, history, behavior)
        replicas, limit = _rate_and_bounds(
            stabilized, current, t, history.events, behavior, min_replicas, max_replicas
        )
        limits = (Limit.STABILISED,) if limit is None and stabilized != desired else ((limit,) if limit else ())
    horizon = max(
        (p.period_seconds for r in (behavior.scale_up, behavior.scale_down) for p in r.policies),
        default=0,
    )
    events = tuple(e for e in history.events if e[0] > t - horizon)
    return Normalized(replicas, limits, BehaviorHistory(recs, events))
