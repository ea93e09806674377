"""What a new leader takes from the persisted plan: validated, per target, never raising for its content."""

from __future__ import annotations

from typing import Any

import pytest

from forecastscale.config.events import EventRequest
from forecastscale.policy.behavior import BehaviorHistory
from forecastscale.policy.event_book import BookedEvent, EventBook, book_event
from forecastscale.service.plan_codec import MAX_CLOCK_SKEW_S, book_entry, decode, encode, merged

NOW = 1_780_000_000.0  # 2026-05-28: every time below is relative to this pinned clock
NAMES = ("chat", "batch")


def test_recommendations_union_events_from_the_plan_only() -> None:
    own = BehaviorHistory(recommendations=((10.0, 3), (20.0, 4)), events=((20.0, 1),))
    saved = BehaviorHistory(recommendations=((5.0, 9), (20.0, 4)), events=((6.0, 6),))
    out = merged(own, saved)
    assert out.recommendations == ((5.0, 9), (10.0, 3), (20.0, 4))
    assert out.events == ((6.0, 6),)


def _plan(**targets: Any) -> dict[str, Any]:
    return encode(targets, EventBook(), NOW - 30, "a", 3)


def test_a_plan_round_trips_through_its_stored_form() -> None:
    entry = {"recommendations": [[NOW - 60, 12], [NOW - 30, 15]], "events": [[NOW - 60, -3]], "last_replicas": 15}
    decoded = decode(_plan(chat=entry), NOW, NAMES)
    assert decoded.problems == [] and decoded.term == 3
    assert decoded.targets["chat"] == BehaviorHistory(((NOW - 60, 12), (NOW - 30, 15)), ((NOW - 60, -3),))
    assert "batch" not in decoded.targets  # no entry: nothing restored, nothing invented


BAD_ENTRIES = {
    "wrongly-typed-element": ({"recommendations": [["x", 1]]}, "recommendations[0][0]: must be a number"),
    "not-a-pair": ({"recommendations": [[NOW]]}, "must be [time, replicas]"),
    "future-stamp-600s": ({"recommendations": [[NOW + 600, 3]]}, "600 s in the future"),
    "future-stamp-1e18": ({"recommendations": [[1e18, 3]]}, "must be a time between"),
    "fractional-replicas": ({"recommendations": [[NOW, 2.5]]}, "must be a whole number"),
    "bool-replicas": ({"recommendations": [[NOW, True]]}, "must be a whole number"),
    "huge-replicas": ({"recommendations": [[NOW, 10**30]]}, "must be within"),
    "negative-recommendation": ({"recommendations": [[NOW, -1]]}, "must be within"),
    "not-a-list": ({"recommendations": "junk"}, "must be a list"),
    "not-an-object": ([1, 2], "must be an object"),
    "event-nan": ({"events": [[float("nan"), 1]]}, "finite"),
}


@pytest.mark.parametrize(("entry", "problem"), list(BAD_ENTRIES.values()), ids=list(BAD_ENTRIES))
def test_a_bad_target_entry_is_dropped_for_that_target_alone_and_reported(entry: Any, problem: str) -> None:
    good = {"recommendations": [[NOW - 60, 7]]}
    decoded = decode(_plan(chat=entry, batch=good), NOW, NAMES)
    assert "chat" not in decoded.targets and len(decoded.problems) == 1
    assert problem in decoded.problems[0] and decoded.problems[0].startswith("targets.chat")
    assert decoded.targets["batch"].recommendations == ((NOW - 60, 7),)  # the other target is untouched


def test_clock_skew_within_the_allowance_is_kept() -> None:
    entry = {"recommendations": [[NOW + MAX_CLOCK_SKEW_S, 4]]}
    assert decode(_plan(chat=entry), NOW, NAMES).targets["chat"].recommendations == ((NOW + MAX_CLOCK_SKEW_S, 4),)


@pytest.mark.parametrize("plan", [{"targets": "x"}, {"targets": None}, {"events": 5}, {"events": {"format": 9}},
                                  {"term": "7"}, {}], ids=["targets-text", "targets-null", "events-number",
                                                           "events-format", "term-text", "empty"])
def test_a_malformed_plan_never_raises(plan: dict[str, Any]) -> None:
    decoded = decode(plan, NOW, NAMES)
    assert decoded.targets == {} and len(decoded.book) == 0 and decoded.term is None


def _event(reason: str, min_replicas: int) -> BookedEvent:
    request = EventRequest(target="chat", duration_s=600, min_replicas=min_replicas, reason=reason)
    return book_event(request, NOW, event_id_=reason)


def test_announced_events_and_deletions_round_trip_through_the_plan() -> None:
    book = EventBook().add(_event("launch", 10)).add(_event("mail", 4)).remove("mail", NOW + 1)
    decoded = decode(encode({}, book, NOW, "a", 1), NOW, NAMES)
    assert decoded.book == book and [t.id for t in decoded.book.deleted] == ["mail"]


def test_one_bad_event_is_left_out_and_the_others_kept() -> None:
    raw = book_entry(EventBook().add(_event("launch", 10)))
    raw["events"].append({**raw["events"][0], "id": "huge", "multiplier": 1e308, "min_replicas": None})
    raw["events"].append({**raw["events"][0], "id": "far", "end_s": 253402300799.0})
    decoded = decode({"events": raw}, NOW, NAMES)
    assert [e.id for e in decoded.book] == ["launch"]
    assert len(decoded.problems) == 2 and all(p.startswith("events.events[") for p in decoded.problems)
