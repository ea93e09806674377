"""What a new leader takes from the persisted plan."""

from __future__ import annotations

import pytest

from forecastscale.policy.behavior import BehaviorHistory
from forecastscale.policy.events import BookedEvent, EventBook, book_event
from forecastscale.service.plan_codec import events_entry, merged, merged_events


def test_recommendations_union_events_from_the_plan_only() -> None:
    own = BehaviorHistory(recommendations=((10.0, 3), (20.0, 4)), events=((20.0, 1),))
    entry = {"recommendations": [[5.0, 9], [20.0, 4]], "events": [[6.0, 6]]}
    out = merged(own, entry)
    assert out.recommendations == ((5.0, 9), (10.0, 3), (20.0, 4))
    assert out.events == ((6.0, 6),)


def test_malformed_entry_keeps_own_recommendations() -> None:
    own = BehaviorHistory(recommendations=((10.0, 3),))
    out = merged(own, {"recommendations": "junk", "events": [[1.0]]})
    assert out.recommendations == ((10.0, 3),) and out.events == ()


def _event(reason: str, min_replicas: int) -> BookedEvent:
    from forecastscale.config_events import EventRequest

    request = EventRequest(target="chat", duration_s=600, min_replicas=min_replicas, reason=reason)
    return book_event(request, 1_000.0, event_id_=reason)


def test_announced_events_round_trip_through_the_plan_and_ours_win_on_the_same_id() -> None:
    saved = EventBook().add(_event("launch", 10)).add(_event("mail", 4))
    plan = {"events": events_entry(saved)}
    own = EventBook().add(_event("launch", 30))  # changed here since the plan was saved
    book, restored = merged_events(own, plan)
    assert restored == 2 and sorted(e.id for e in book) == ["launch", "mail"]
    assert book.get("launch").min_replicas == 30
    assert merged_events(own, None) == (own, 0)


def test_unreadable_events_in_the_plan_are_an_error_not_silence() -> None:
    with pytest.raises(ValueError):
        merged_events(EventBook(), {"events": {"format": 1, "events": [{"id": 3}]}})
