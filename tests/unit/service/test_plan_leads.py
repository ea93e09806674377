"""The lead times in the plan: stored per target and pool, read back checked, a bad list left out and reported."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from forecastscale.policy.event_book import EventBook
from forecastscale.policy.leadtimes import LeadBook
from forecastscale.service.events_api import EventStore
from forecastscale.service.leads import restored
from forecastscale.service.metrics import ServiceMetrics
from forecastscale.service.persistence import PlanKeeper
from forecastscale.service.plan import PlanSnapshot
from forecastscale.service.plan_codec import decode, encode

NOW = 1_780_000_000.0


def _book() -> LeadBook:
    return LeadBook().with_samples("pod", "chat", (300.0, 320.0)).with_samples("node", "a100", (600.0,))


def test_lead_times_round_trip_through_the_plan() -> None:
    plan = encode({}, EventBook(), NOW, "a", 1, _book())
    assert plan["leads"] == {"pod": {"chat": [300.0, 320.0]}, "node": {"a100": [600.0]}}
    decoded = decode(plan, NOW, ["chat"])
    assert decoded.problems == [] and decoded.leads is not None
    assert decoded.leads.samples == _book().samples


def test_a_plan_without_lead_times_restores_none() -> None:
    assert decode(encode({}, EventBook(), NOW, "a", 1), NOW, ["chat"]).leads is None


@pytest.mark.parametrize(("raw", "problem"), [
    ("junk", "leads: must be an object"),
    ({"pod": []}, "leads.pod: must be an object"),
    ({"pod": {"chat": "x"}}, "leads.pod.chat: must be a list"),
    ({"pod": {"chat": [-5]}}, "leads.pod.chat[0]: must be"),
    ({"pod": {"chat": [float("nan")]}}, "leads.pod.chat[0]: must be a finite number"),
    ({"pod": {"chat": [1e9]}}, "leads.pod.chat[0]: must be"),
    ({"pod": {"chat": [True]}}, "leads.pod.chat[0]: must be a number"),
    ({"pod": {"chat": [300.0] * 1001}}, "leads.pod.chat: must be a list of at most 1000"),
], ids=["not-object", "kind-not-object", "not-list", "negative", "nan", "huge", "bool", "too-many"])
def test_bad_saved_lead_times_are_left_out_and_reported(raw: Any, problem: str) -> None:
    plan = {**encode({}, EventBook(), NOW, "a", 1), "leads": raw}
    decoded = decode(plan, NOW, ["chat"])
    assert any(p.startswith(problem) for p in decoded.problems), decoded.problems
    assert decoded.leads is None or decoded.leads.measured("pod", "chat") == ()


def test_a_good_list_survives_a_bad_neighbour() -> None:
    plan = {**encode({}, EventBook(), NOW, "a", 1), "leads": {"pod": {"chat": [300.0], "bad": ["x"]}}}
    decoded = decode(plan, NOW, ["chat"])
    assert decoded.leads is not None and decoded.leads.measured("pod", "chat") == (300.0,)


def test_a_new_leader_takes_the_saved_samples_where_it_measured_none() -> None:
    own = LeadBook().with_samples("pod", "batch", (90.0,)).wrote("pod", "chat", 0.0, 1, 2)
    out = restored(own, _book())
    assert out.measured("pod", "chat") == (300.0, 320.0) and out.measured("pod", "batch") == (90.0,)
    assert out.waiting == own.waiting  # its own open waits go on


def test_the_keeper_saves_the_lead_times_and_hands_them_back_on_restore() -> None:
    """A failover keeps what was measured: the leader's save carries the book, the next leader's restore gets it."""
    class Store:
        def __init__(self) -> None:
            self.written: Mapping[str, Any] = {}

        def read(self) -> PlanSnapshot:
            return PlanSnapshot(dict(self.written) or None, "7")

        def write(self, plan: Mapping[str, Any], version: str | None) -> str:
            self.written = json.loads(json.dumps(plan))  # as stored: JSON
            return "8"

    store, got = Store(), []
    leader = PlanKeeper(store, ServiceMetrics(CollectorRegistry()), leading=lambda: True, clock=lambda: NOW,
                        leads=_book)
    events = EventStore(leader.save_events)
    assert leader.restore([], events) and leader.save([], events)
    follower = PlanKeeper(store, ServiceMetrics(CollectorRegistry()), leading=lambda: True, clock=lambda: NOW,
                          restore_leads=got.append)
    assert follower.restore([], EventStore(follower.save_events))
    assert [b.samples for b in got] == [_book().samples]
