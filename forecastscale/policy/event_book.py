"""Announced (webhook) events as the service books them: immutable, bounded, mergeable with tombstones.

* :class:`BookedEvent` — one event: ``target`` floored during ``[start_s, end_s)`` (UNIX seconds).
* :class:`Tombstone` — a deletion, remembered until the event would have ended.
* :class:`EventBook` — the events by id and the tombstones; :meth:`EventBook.merge` takes the newest
  action per id, so no older copy (a stale plan, a former leader's memory) brings a deletion back.

Everything read back (:meth:`BookedEvent.from_dict`) is checked at the edge: times within the sane
horizon, floors and multipliers within the bounds of :mod:`forecastscale.config.events`.
Pure: no clock, no I/O; every time is passed in.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from forecastscale.config.events import (
    MAX_EVENT_AHEAD_S,
    MAX_EVENT_S,
    MAX_FLOOR_REPLICAS,
    MAX_MULTIPLIER,
    MAX_REASON_CHARS,
    EventRequest,
)
from forecastscale.edge import epoch, finite, shown, strict_json, whole
from forecastscale.types import Window

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Deterministic ids: uuid5 of the event's content in this namespace (uuid5(NAMESPACE_URL, "forecastscale/events")).
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "forecastscale/events")
BOOK_FORMAT = 2  # 2 adds tombstones; 1 is still read
MAX_BOOK_ENTRIES = 20_000
MAX_BOOK_BYTES = 8 * 1024 * 1024


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat().replace("+00:00", "Z")


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
    created_s: float  # when it was booked (the leader's clock): newer than a tombstone, it lives

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"event id must be 1-64 of [A-Za-z0-9._-] (not starting with . - _), got {shown(self.id)}")
        if not self.target or len(self.target) > 253:
            raise ValueError(f"event {self.id}: target must be 1-253 characters, got {shown(self.target)}")
        if (self.min_replicas is None) == (self.multiplier is None):
            raise ValueError(f"event {self.id}: need exactly one of min_replicas or multiplier")
        if self.min_replicas is not None:
            whole(f"event {self.id}: min_replicas", self.min_replicas, lo=0, hi=MAX_FLOOR_REPLICAS)
        if self.multiplier is not None and not finite(f"event {self.id}: multiplier", self.multiplier,
                                                          hi=MAX_MULTIPLIER) > 0:
            raise ValueError(f"event {self.id}: multiplier must be > 0, got {self.multiplier}")
        start = finite(f"event {self.id}: start_s", self.start_s)
        if not start < finite(f"event {self.id}: end_s", self.end_s) <= start + MAX_EVENT_S:
            raise ValueError(f"event {self.id}: need start_s < end_s <= start_s + {MAX_EVENT_S:g}, "
                             f"got {self.start_s}, {self.end_s}")
        if len(self.reason) > MAX_REASON_CHARS:
            raise ValueError(f"event {self.id}: reason longer than {MAX_REASON_CHARS} characters")

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
        """Read :meth:`to_dict`'s form back, every time within the sane horizon; ValueError naming what is wrong."""
        _keys("an event", data, ("id", "target", "start_s", "end_s", "min_replicas", "multiplier", "reason",
                                 "created_s"))
        for k in ("id", "target", "reason"):
            if not isinstance(data[k], str):
                raise ValueError(f"event {shown(data.get('id'))}: {k} must be text, got {shown(data[k])}")
        if not _ID.match(data["id"]):
            raise ValueError(f"event id must be 1-64 of [A-Za-z0-9._-] (not starting with . - _), got "
                             f"{shown(data['id'])}")
        where = f"event {data['id']}"
        return cls(id=data["id"], target=data["target"], start_s=epoch(f"{where}: start_s", data["start_s"]),
                   end_s=epoch(f"{where}: end_s", data["end_s"]),
                   min_replicas=None if data["min_replicas"] is None else whole(
                       f"{where}: min_replicas", data["min_replicas"], lo=0, hi=MAX_FLOOR_REPLICAS),
                   multiplier=None if data["multiplier"] is None else finite(
                       f"{where}: multiplier", data["multiplier"], lo=0, hi=MAX_MULTIPLIER),
                   reason=data["reason"], created_s=epoch(f"{where}: created_s", data["created_s"]))


@dataclass(frozen=True)
class Tombstone:
    """Event ``id`` was deleted at ``deleted_s``; kept until the event would have ended (``end_s``), so an
    old copy of the event (a stale plan, a former leader's memory) cannot bring it back."""

    id: str
    deleted_s: float
    end_s: float

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "deleted_s": self.deleted_s, "end_s": self.end_s}

    @classmethod
    def from_dict(cls, data: Any) -> Tombstone:
        """Read :meth:`to_dict`'s form back; ValueError naming what is wrong."""
        _keys("a deletion", data, ("id", "deleted_s", "end_s"))
        if not isinstance(data["id"], str) or not _ID.match(data["id"]):
            raise ValueError(f"a deletion: bad id {shown(data['id'])}")
        return cls(data["id"], epoch(f"deletion {data['id']}: deleted_s", data["deleted_s"]),
                   epoch(f"deletion {data['id']}: end_s", data["end_s"]))


def _keys(what: str, data: Any, keys: tuple[str, ...]) -> None:
    if not isinstance(data, dict) or set(data) != set(keys):
        got = sorted(map(str, data))[:12] if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{what} needs exactly the keys {list(keys)}, got {got}")


def event_id(request: EventRequest, start_s: float) -> str:
    """A deterministic id for ``request`` starting at ``start_s``: the same announcement twice is one event."""
    canonical = json.dumps({"target": request.target, "start_s": start_s, "duration_s": request.duration_s,
                            "min_replicas": request.min_replicas, "multiplier": request.multiplier,
                            "reason": request.reason}, sort_keys=True)
    return str(uuid.uuid5(ID_NAMESPACE, canonical))


def book_event(request: EventRequest, now_s: float, event_id_: str | None = None) -> BookedEvent:
    """``request`` as a stored event: start = ``request.start`` or ``now_s``; id = ``event_id_`` or
    :func:`event_id`. ValueError (``start: …``) if the event would already be over at ``now_s`` or
    starts more than a year after it."""
    start_s = request.start.timestamp() if request.start is not None else now_s
    end_s = start_s + request.duration_s
    if end_s <= now_s:
        raise ValueError(f"start: the event ended at {_iso(end_s)}, before now ({_iso(now_s)}), "
                         f"got {request.start.isoformat() if request.start else None!r}")
    if start_s > now_s + MAX_EVENT_AHEAD_S:
        raise ValueError(f"start: {_iso(start_s)} is more than {MAX_EVENT_AHEAD_S // 86400} days ahead")
    epoch("end", end_s)
    return BookedEvent(id=event_id_ or event_id(request, start_s), target=request.target, start_s=start_s,
                       end_s=end_s, min_replicas=request.min_replicas, multiplier=request.multiplier,
                       reason=request.reason, created_s=now_s)


@dataclass(frozen=True)
class EventBook:
    """Webhook events by id, ordered by (start_s, id), and the tombstones of deleted ones. Immutable: every
    change returns a new book. Two books :meth:`merge` to the newest action per id (booking vs deletion)."""

    events: tuple[BookedEvent, ...] = ()
    deleted: tuple[Tombstone, ...] = ()

    def __post_init__(self) -> None:
        ids = [e.id for e in self.events]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate event ids: {sorted({i for i in ids if ids.count(i) > 1})[:5]}")
        object.__setattr__(self, "events", tuple(sorted(self.events, key=lambda e: (e.start_s, e.id))))
        latest: dict[str, Tombstone] = {}
        for t in self.deleted:  # one tombstone per id, the latest deletion
            if t.id not in latest or t.deleted_s > latest[t.id].deleted_s:
                latest[t.id] = t
        object.__setattr__(self, "deleted", tuple(sorted(latest.values(), key=lambda t: t.id)))

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[BookedEvent]:
        return iter(self.events)

    def __contains__(self, event_id: object) -> bool:
        return any(e.id == event_id for e in self.events)

    def get(self, event_id: str) -> BookedEvent | None:
        return next((e for e in self.events if e.id == event_id), None)

    def add(self, event: BookedEvent) -> EventBook:
        """The book with ``event`` (replacing any event with the same id; a re-announcement after a deletion
        clears its tombstone)."""
        return EventBook((*(e for e in self.events if e.id != event.id), event),
                         tuple(t for t in self.deleted if t.id != event.id))

    def remove(self, event_id: str, at_s: float) -> EventBook:
        """The book without event ``event_id``, tombstoned as deleted at ``at_s``; KeyError if there is none."""
        event = self.get(event_id)
        if event is None:
            raise KeyError(event_id)
        return EventBook(tuple(e for e in self.events if e.id != event_id),
                         (*self.deleted, Tombstone(event_id, at_s, event.end_s)))

    def expire(self, t: float) -> EventBook:
        """The book without the events (and tombstones) over at ``t`` (``end_s <= t``)."""
        return replace(self, events=tuple(e for e in self.events if e.end_s > t),
                       deleted=tuple(d for d in self.deleted if d.end_s > t))

    def merge(self, other: EventBook) -> EventBook:
        """Both books, the newest action per id winning: a booking after the deletion lives, a deletion at or
        after the booking wins (so neither side can resurrect what the other deleted)."""
        tombs = {t.id: t for t in sorted((*self.deleted, *other.deleted), key=lambda t: t.deleted_s)}
        events = {e.id: e for e in (*other.events, *self.events)}  # the same id has the same content: ours kept
        alive = tuple(e for e in events.values() if e.id not in tombs or e.created_s > tombs[e.id].deleted_s)
        return EventBook(alive, tuple(t for t in tombs.values() if t.id not in {e.id for e in alive}))

    def for_target(self, target: str) -> tuple[BookedEvent, ...]:
        return tuple(e for e in self.events if e.target == target)

    def active(self, target: str, t: float, lead_s: float = 0.0, ahead_s: float = 0.0) -> list[Window]:
        """``target``'s windows in force at any time in ``[t, t + ahead_s]``; ``lead_s`` (its pod startup time)
        starts each one early. ``ahead_s`` = the node start-up time lets the nodes asked for now be planned for
        an event that begins when they are Ready (the floor itself applies only while a window is in force)."""
        return [w for e in self.for_target(target) if (w := e.window(lead_s)).start_s <= t + ahead_s and t < w.end_s]

    def to_json(self) -> str:
        """Compact, deterministic JSON (``{"format": 2, "events": [...], "deleted": [...]}``) for the plan."""
        return json.dumps({"format": BOOK_FORMAT, "events": [e.to_dict() for e in self.events],
                           "deleted": [t.to_dict() for t in self.deleted]},
                          sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> EventBook:
        """Read :meth:`to_json` back (format 1, without tombstones, too); ValueError saying what is wrong."""
        return cls.from_data(strict_json(text, max_bytes=MAX_BOOK_BYTES))

    @classmethod
    def from_data(cls, data: Any) -> EventBook:
        """The book from :meth:`to_json`'s parsed form; ValueError saying what is wrong."""
        if not isinstance(data, dict) or data.get("format") not in (1, BOOK_FORMAT) or not isinstance(
                data.get("events"), list) or not isinstance(data.get("deleted", []), list):
            raise ValueError(f'event book: need {{"format": {BOOK_FORMAT}, "events": [...], "deleted": [...]}}')
        if len(data["events"]) + len(data.get("deleted", [])) > MAX_BOOK_ENTRIES:
            raise ValueError(f"event book: more than {MAX_BOOK_ENTRIES} entries")
        return cls(tuple(BookedEvent.from_dict(e) for e in data["events"]),
                   tuple(Tombstone.from_dict(t) for t in data.get("deleted", [])))
