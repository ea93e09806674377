"""Event floors: replicas a target keeps during a scheduled (cron) or announced (webhook) event.

A :class:`Window` is one occurrence of an event as a half-open span ``[start_s, end_s)`` of UNIX
seconds with its floor: ``min_replicas`` (an absolute count) or ``multiplier`` (× the policy's own
recommendation). Windows start ``lead_s`` before the event itself, the target's pod startup time, so
the extra pods are Ready when the event begins.

* :func:`cron_windows` — the occurrences of a :class:`~forecastscale.config.events.CronEvent` in a span
  (:mod:`forecastscale.cron` computes them in the event's time zone, so 09:00 local stays 09:00 local
  across DST).
* announced (webhook) events are booked in :mod:`forecastscale.policy.event_book` and reach the
  policy as windows (:attr:`~forecastscale.types.Observation.events`).
* :func:`floor` — the combined floor at an instant: the highest of the active windows' floors.

Pure: no clock, no I/O; every time is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from forecastscale.config import Target
from forecastscale.config.events import CronEvent
from forecastscale.cron import zone
from forecastscale.types import Observation, Source, Window

# ceil() of base × multiplier that is an integer up to float noise (10 × 1.1) must not add a replica.
_EPS = 1e-9


def _iso(t: float, tz: Any = UTC) -> str:
    return datetime.fromtimestamp(t, tz=tz).isoformat().replace("+00:00", "Z")


def cron_windows(event: CronEvent, start_s: float, end_s: float, lead_s: float = 0.0) -> list[Window]:
    """Every window of ``event`` overlapping ``[start_s, end_s)``, in order.

    Each occurrence ``o`` of the schedule (local time in ``event.timezone``) gives the window
    ``[o - lead_s, o + duration_s)``: pre-warmed by ``lead_s`` (the target's pod startup time)."""
    if lead_s < 0 or not math.isfinite(lead_s):
        raise ValueError(f"lead_s must be a finite number >= 0, got {lead_s}")
    if end_s < start_s:
        raise ValueError(f"end_s ({end_s}) before start_s ({start_s})")
    tz = zone(event.timezone)
    windows = []
    # Occurrences whose window [o - lead, o + duration) meets [start_s, end_s).
    for o in event.occurrences(start_s - event.duration_s, end_s + lead_s):
        if o + event.duration_s <= start_s or o - lead_s >= end_s:
            continue
        windows.append(Window(
            start_s=o - lead_s, end_s=o + event.duration_s, min_replicas=event.min_replicas,
            multiplier=event.multiplier, source=f"cron:{event.name}",
            reason=f"{event.name} ({event.schedule} {event.timezone}) at {_iso(o, tz)}",
        ))
    return windows


def floor(windows: Iterable[Window], t: float, base_replicas: int) -> tuple[int, str | None]:
    """The combined event floor at ``t`` and the reason naming the winning window.

    The floor is the highest of the active windows' ``min_replicas`` and of ``ceil(base_replicas ×
    multiplier)`` (i.e. base × the largest multiplier); ties go to the earliest window given.
    ``(0, None)`` when no window is active at ``t``."""
    if base_replicas < 0:
        raise ValueError(f"base_replicas must be >= 0, got {base_replicas}")
    best: tuple[int, str] | None = None
    for w in windows:
        if not w.active(t):
            continue
        if w.min_replicas is not None:
            n, how = w.min_replicas, f"min_replicas {w.min_replicas}"
        else:
            assert w.multiplier is not None
            n = max(0, math.ceil(base_replicas * w.multiplier - _EPS))
            how = f"{base_replicas} × {w.multiplier:g} = {n} replicas"
        if best is None or n > best[0]:
            best = (n, f"event {w.source}: {how} ({w.reason})")
    return best if best is not None else (0, None)


def windows_at(target: Target, announced: Iterable[Window], at_s: float) -> list[Window]:
    """Every event window in force at ``at_s`` (UNIX seconds): the ``announced`` ones and ``target``'s
    cron schedules' occurrences, pre-warmed by its pod startup time."""
    cron = [w for e in target.events.cron for w in cron_windows(e, at_s, at_s + 1.0, target.workload.pod_startup_s)]
    return [w for w in (*announced, *cron) if w.active(at_s)]


def event_floor(obs: Observation, target: Target, base_replicas: int, ahead_s: float = 0.0
                ) -> tuple[int, str | None]:
    """The floor ``ahead_s`` after ``obs`` from ``target``'s cron schedules (at the wall clock,
    pre-warmed by its pod startup time) and the announced events the observation carries;
    ``(0, None)`` when none is in force. ``ahead_s`` = the node start-up time asks what the
    nodes requested now must hold when they are Ready."""
    if obs.wall_s is None:  # no wall clock: no schedule applies, announced events by the run's clock
        windows, now = list(obs.events), obs.t + ahead_s
    else:
        now = obs.wall_s + ahead_s
        windows = windows_at(target, obs.events, now)
    return floor(windows, now, base_replicas) if windows else (0, None)


def with_events(obs: Observation, target: Target, source: Source, wanted: int,
                candidates: dict[str, int]) -> tuple[Source, int, str]:
    """Step two of the combination, max(recommendations) → max(that, event floor): the winning
    source, the replicas, and a note for the message ("" when no event is in force).
    Adds ``candidates["event"]`` when an event is in force."""
    replicas, why = event_floor(obs, target, wanted)
    if why is None:
        return source, wanted, ""
    candidates["event"] = replicas
    if replicas > wanted:
        return Source.EVENT, replicas, f"; floor {replicas} > {wanted}: {why}"
    return source, wanted, f"; floor {replicas} ≤ {wanted}: {why}"
