"""What a new leader takes from the persisted plan: validated, per target, never raising for its content."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from forecastscale.config.events import EventRequest
from forecastscale.policy.base import PolicyHistory
from forecastscale.policy.behavior import BehaviorHistory
from forecastscale.policy.event_book import BookedEvent, EventBook, book_event
from forecastscale.policy.guardrail import GuardState, Pending, Score
from forecastscale.service.events_api import EventStore
from forecastscale.service.metrics import ServiceMetrics
from forecastscale.service.persistence import PlanKeeper
from forecastscale.service.plan import PlanSnapshot
from forecastscale.service.plan_codec import MAX_CLOCK_SKEW_S, book_entry, decode, encode, history_entry, merged
from forecastscale.service.plan_guardrail import guardrail_entry

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


# --- the forecast guardrail's state -----------------------------------------------------------------
GUARD = GuardState("persistence", NOW - 600, NOW - 60,
                   {"model": Score(2.5, 0.61, 400), "persistence": Score(0.8, 0.93, 400)},
                   (Pending(5_933_333_335, {"model": 10.0, "persistence": 12.5}),))


def test_the_guardrail_state_round_trips_and_stays_small() -> None:
    entry = history_entry(BehaviorHistory(), 4, guardrail=GUARD)
    decoded = decode(_plan(chat=json.loads(json.dumps(entry))), NOW, NAMES)
    assert decoded.problems == [] and decoded.guardrail["chat"] == GUARD
    assert len(json.dumps(entry["guardrail"])) < 400  # three scores, two times, a pending forecast per lead step


BAD_GUARDS = {
    "unknown-mode": ({**guardrail_entry(GUARD), "active": "oracle"}, "guardrail.active: must be one of"),
    "future-switch": ({**guardrail_entry(GUARD), "since": NOW + 600}, "guardrail.since"),
    "negative-loss": ({**guardrail_entry(GUARD), "scores": {"model": [-1.0, 0.5, 3]}}, "scores.model[0]"),
    "coverage-above-1": ({**guardrail_entry(GUARD), "scores": {"model": [1.0, 1.5, 3]}}, "scores.model[1]"),
    "unknown-forecaster": ({**guardrail_entry(GUARD), "scores": {"gbm": [1.0, 0.5, 3]}}, "guardrail.scores: must map"),
    "fractional-step": ({**guardrail_entry(GUARD), "pending": [[1.5, {"model": 1.0}]]}, "pending[0][0]"),
    "nan-forecast": ({**guardrail_entry(GUARD), "pending": [[1, {"model": float("nan")}]]}, "pending[0].model"),
    "too-many-pending": ({**guardrail_entry(GUARD), "pending": [[1, {}]] * 2000}, "at most 1024"),
    "not-an-object": ([1], "guardrail: must be an object"),
}


@pytest.mark.parametrize(("guard", "problem"), list(BAD_GUARDS.values()), ids=list(BAD_GUARDS))
def test_a_bad_guardrail_state_drops_that_target_alone(guard: Any, problem: str) -> None:
    entry = {"recommendations": [[NOW - 60, 7]], "guardrail": guard}
    decoded = decode(_plan(chat=entry, batch={"recommendations": [[NOW - 60, 7]]}), NOW, NAMES)
    assert "chat" not in decoded.targets and "chat" not in decoded.guardrail and len(decoded.problems) == 1
    assert decoded.problems[0].startswith("targets.chat.guardrail") and problem in decoded.problems[0]
    assert "batch" in decoded.targets


def test_a_new_leader_restores_the_guardrail_state_and_saves_it_again() -> None:
    class Store:  # the plan store: one saved plan, and what the keeper writes back
        def __init__(self) -> None:
            self.written: Mapping[str, Any] = {}

        def read(self) -> PlanSnapshot:
            return PlanSnapshot(_plan(chat={"recommendations": [], "guardrail": guardrail_entry(GUARD)}), "7")

        def write(self, plan: Mapping[str, Any], version: str | None) -> str:
            self.written = plan
            return "8"

    @dataclass
    class Runner:  # what restore and save read of a TargetRunner
        target: Any
        history: PolicyHistory
        last: Any = None

    store, runner = Store(), Runner(SimpleNamespace(name="chat"), PolicyHistory())
    keeper = PlanKeeper(store, ServiceMetrics(CollectorRegistry()), leading=lambda: True, clock=lambda: NOW)
    events = EventStore(keeper.save_events)
    assert keeper.restore([runner], events)  # type: ignore[list-item]
    assert runner.history.guardrail == GUARD  # a failover keeps the stand-in, its scores and the hold
    assert keeper.save([runner], events)  # type: ignore[list-item]
    assert store.written["targets"]["chat"]["guardrail"] == guardrail_entry(GUARD)
