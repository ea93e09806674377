"""What the leader persists per target and how a new leader merges it back (pure, JSON-able).

The plan holds each target's behaviour history (past recommendations and scale events, the
state of the HPA stabilisation windows and rate policies), the last decision, and the events
announced over ``/v1/events``. A new leader
takes the union with the recommendations it computed itself as a standby: a recommendation it never saw
still counts in its stabilisation window, so a failover cannot cause a premature scale-down.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from forecastscale.policy.behavior import BehaviorHistory
from forecastscale.policy.events import EventBook
from forecastscale.service.target import TargetRunner


def plan_entry(runner: TargetRunner) -> dict[str, Any]:
    """One target's entry: behaviour history as ``[[t, n], …]`` and the last decided replicas."""
    h = runner.policy.behavior
    return {
        "recommendations": [[t, n] for t, n in h.recommendations],
        "events": [[t, n] for t, n in h.events],
        "last_replicas": runner.last.replicas if runner.last is not None else None,
    }


def _pairs(raw: Any) -> tuple[tuple[float, int], ...]:
    if not isinstance(raw, list):
        return ()
    return tuple((float(p[0]), int(p[1])) for p in raw if isinstance(p, list) and len(p) == 2)


def merged(own: BehaviorHistory, entry: Mapping[str, Any]) -> BehaviorHistory:
    """Recommendations: the union of ``own`` and the entry's. Scale events: the entry's only.

    A standby records the changes it *would* have made; only the leader's were made, and
    counting both would halve the rate limits right after a failover.
    """
    recs = sorted({*own.recommendations, *_pairs(entry.get("recommendations"))})
    return BehaviorHistory(tuple(recs), _pairs(entry.get("events")))


def merge_plan(plan: Mapping[str, Any] | None, runners: Iterable[TargetRunner]) -> int:
    """Merge ``plan`` into every runner's policy; returns how many targets had an entry."""
    targets = plan.get("targets") if plan else None
    if not isinstance(targets, Mapping):
        return 0
    n = 0
    for r in runners:
        entry = targets.get(r.target.name)
        if isinstance(entry, Mapping):
            r.policy.behavior = merged(r.policy.behavior, entry)
            n += 1
    return n


def events_entry(book: EventBook) -> Any:
    """The announced events as the plan stores them (the book's own JSON form)."""
    return json.loads(book.to_json())


def merged_events(own: EventBook, plan: Mapping[str, Any] | None) -> tuple[EventBook, int]:
    """``own`` plus the plan's events it lacks (``own`` wins on the same id), and how many the plan held.

    ValueError if the plan's events cannot be read.
    """
    raw = plan.get("events") if plan else None
    if raw is None:
        return own, 0
    saved = EventBook.from_json(json.dumps(raw))
    book = own
    for event in saved:
        if event.id not in book:
            book = book.add(event)
    return book, len(saved)
