"""Event floors: replicas a target keeps during a scheduled (cron) or announced (webhook) event.

A :class:`Window` is one occurrence of an event as a half-open span ``[start_s, end_s)`` of UNIX
seconds with its floor: ``min_replicas`` (an absolute count) or ``multiplier`` (× the policy's own
recommendation). Windows start ``lead_s`` before the event itself, the target's pod startup time, so
the extra pods are Ready when the event begins.

* :func:`cron_windows` — the occurrences of a :class:`~forecastscale.config_events.CronEvent` in a span
  (APScheduler computes them in the event's time zone, so 09:00 local stays 09:00 local across DST).
* :class:`EventBook` — an immutable set of webhook events by id, serialisable to JSON for the plan
  ConfigMap (so announced events survive a leader failover).
* :func:`floor` — the combined floor at an instant: the highest of the active windows' floors.

Pure: no clock, no I/O; every time is passed in.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from forecastscale.config import Target
from forecastscale.config_events import CronEvent, EventRequest, zone
from forecastscale.types import Observation, Window

# ceil() of base × multiplier that is an integer up to float noise (10 × 1.1) must not add a replica.
_EPS = 1e-9
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Deterministic ids: uuid5 of the event's content in this namespace (uuid5(NAMESPACE_URL, "forecastscale/events")).
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "forecastscale/events")
BOOK_FORMAT = 1


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


@dataclass(frozen=True)
class BookedEvent:
    """One webhook event as stored: ``target`` floored during ``[start_s, end_s)`` (UNIX seconds)."""

    id: str
    target: str
    start_s: float
    end_s: float
    min_replicas: int | None
    multiplier: float | None
    reason: str
    created_s: float

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"event id must be 1-64 of [A-Za-z0-9._-] (not starting with . - _), got {self.id!r}")
        if not self.target:
            raise ValueError(f"event {self.id}: empty target")
        if (self.min_replicas is None) == (self.multiplier is None):
            raise ValueError(f"event {self.id}: need exactly one of min_replicas or multiplier")
        if self.min_replicas is not None and self.min_replicas < 0:
            raise ValueError(f"event {self.id}: min_replicas must be >= 0, got {self.min_replicas}")
        if self.multiplier is not None and not (self.multiplier > 0 and math.isfinite(self.multiplier)):
            raise ValueError(f"event {self.id}: multiplier must be > 0, got {self.multiplier}")
        if not (math.isfinite(self.start_s) and math.isfinite(self.end_s) and self.end_s > self.start_s):
            raise ValueError(f"event {self.id}: need finite start_s < end_s, got {self.start_s}, {self.end_s}")

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def window(self, lead_s: float = 0.0) -> Window:
        """This event as a floor window, pre-warmed by ``lead_s``."""
        return Window(self.start_s - lead_s, self.end_s, self.min_replicas, self.multiplier,
                      f"webhook:{self.id}", self.reason)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form (what :meth:`from_dict` reads back)."""
        return {"id": self.id, "target": self.target, "start_s": self.start_s, "end_s": self.end_s,
                "min_replicas": self.min_replicas, "multiplier": self.multiplier, "reason": self.reason,
                "created_s": self.created_s}

    def to_view(self) -> dict[str, Any]:
        """:meth:`to_dict` plus readable UTC ``start``/``end`` and ``duration_s`` (the API's answer)."""
        return {**self.to_dict(), "start": _iso(self.start_s), "end": _iso(self.end_s),
                "duration_s": self.duration_s}

    @classmethod
    def from_dict(cls, data: Any) -> BookedEvent:
        """Read :meth:`to_dict`'s form back; ValueError naming what is wrong."""
        keys = ("id", "target", "start_s", "end_s", "min_replicas", "multiplier", "reason", "created_s")
        if not isinstance(data, dict) or set(data) != set(keys):
            got = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"an event needs exactly the keys {list(keys)}, got {got}")
        for k in keys:
            v = data[k]
            if k in ("id", "target", "reason"):
                ok = isinstance(v, str)
            elif k == "min_replicas":
                ok = v is None or (isinstance(v, int) and not isinstance(v, bool))
            else:
                ok = (v is None and k == "multiplier") or _number(v)
            if not ok:
                raise ValueError(f"event {data.get('id')!r}: bad {k}, got {v!r}")
        return cls(id=data["id"], target=data["target"], start_s=float(data["start_s"]),
                   end_s=float(data["end_s"]), min_replicas=data["min_replicas"],
                   multiplier=None if data["multiplier"] is None else float(data["multiplier"]),
                   reason=data["reason"], created_s=float(data["created_s"]))


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def event_id(request: EventRequest, start_s: float) -> str:
    """A deterministic id for ``request`` starting at ``start_s``: the same announcement twice is one event."""
    canonical = json.dumps({"target": request.target, "start_s": start_s, "duration_s": request.duration_s,
                            "min_replicas": request.min_replicas, "multiplier": request.multiplier,
                            "reason": request.reason}, sort_keys=True)
    return str(uuid.uuid5(ID_NAMESPACE, canonical))


def book_event(request: EventRequest, now_s: float, event_id_: str | None = None) -> BookedEvent:
    """``request`` as a stored event: start = ``request.start`` or ``now_s``; id = ``event_id_`` or
    :func:`event_id`. ValueError (``start: …``) if the event would already be over at ``now_s``."""
    start_s = request.start.timestamp() if request.start is not None else now_s
    end_s = start_s + request.duration_s
    if end_s <= now_s:
        raise ValueError(f"start: the event ended at {_iso(end_s)}, before now ({_iso(now_s)}), "
                         f"got {request.start.isoformat() if request.start else None!r}")
    return BookedEvent(id=event_id_ or event_id(request, start_s), target=request.target, start_s=start_s,
                       end_s=end_s, min_replicas=request.min_replicas, multiplier=request.multiplier,
                       reason=request.reason, created_s=now_s)


@dataclass(frozen=True)
class EventBook:
    """Webhook events by id, ordered by (start_s, id). Immutable: every change returns a new book."""

    events: tuple[BookedEvent, ...] = ()

    def __post_init__(self) -> None:
        ids = [e.id for e in self.events]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate event ids: {sorted({i for i in ids if ids.count(i) > 1})}")
        object.__setattr__(self, "events", tuple(sorted(self.events, key=lambda e: (e.start_s, e.id))))

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[BookedEvent]:
        return iter(self.events)

    def __contains__(self, event_id: object) -> bool:
        return any(e.id == event_id for e in self.events)

    def get(self, event_id: str) -> BookedEvent | None:
        return next((e for e in self.events if e.id == event_id), None)

    def add(self, event: BookedEvent) -> EventBook:
        """The book with ``event`` (replacing any event with the same id)."""
        return replace(self, events=(*(e for e in self.events if e.id != event.id), event))

    def remove(self, event_id: str) -> EventBook:
        """The book without event ``event_id``; KeyError if there is none."""
        if event_id not in self:
            raise KeyError(event_id)
        return replace(self, events=tuple(e for e in self.events if e.id != event_id))

    def expire(self, t: float) -> EventBook:
        """The book without the events over at ``t`` (``end_s <= t``)."""
        return replace(self, events=tuple(e for e in self.events if e.end_s > t))

    def for_target(self, target: str) -> tuple[BookedEvent, ...]:
        return tuple(e for e in self.events if e.target == target)

    def active(self, target: str, t: float, lead_s: float = 0.0) -> list[Window]:
        """``target``'s windows in force at ``t``; ``lead_s`` (its pod startup time) starts each one early."""
        return [w for e in self.for_target(target) if (w := e.window(lead_s)).active(t)]

    def to_json(self) -> str:
        """Compact, deterministic JSON (``{"format": 1, "events": [...]}``) for the plan ConfigMap."""
        return json.dumps({"format": BOOK_FORMAT, "events": [e.to_dict() for e in self.events]},
                          sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> EventBook:
        """Read :meth:`to_json` back; ValueError saying what is wrong."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"event book: not JSON ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != BOOK_FORMAT or not isinstance(data.get("events"), list):
            raise ValueError(f'event book: need {{"format": {BOOK_FORMAT}, "events": [...]}}')
        return cls(tuple(BookedEvent.from_dict(e) for e in data["events"]))


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
    cron = [w for e in target.schedules for w in cron_windows(e, at_s, at_s + 1.0, target.pod_startup_s)]
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


def with_events(obs: Observation, target: Target, source: str, wanted: int,
                candidates: dict[str, int]) -> tuple[str, int, str]:
    """Step two of the combination, max(recommendations) → max(that, event floor): the winning
    source, the replicas, and a note for the message ("" when no event is in force).
    Adds ``candidates["event"]`` when an event is in force."""
    replicas, why = event_floor(obs, target, wanted)
    if why is None:
        return source, wanted, ""
    candidates["event"] = replicas
    if replicas > wanted:
        return "event", replicas, f"; floor {replicas} > {wanted}: {why}"
    return source, wanted, f"; floor {replicas} ≤ {wanted}: {why}"
