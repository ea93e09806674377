"""Event floors in the decision: max(recommendations, event floor) → behaviour → bounds, named in the reason."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from forecastscale.config import Behavior, NodePool, ScalingPolicy, ScalingRules, Target
from forecastscale.config.events import CronEvent
from forecastscale.policy.base import PolicyHistory
from forecastscale.policy.reactive import ReactivePolicy
from forecastscale.types import Observation, Window
from tests.conftest import target_of

NY = ZoneInfo("America/New_York")
LAUNCH = CronEvent(name="launch", schedule="0 9 * * 1-5", timezone="America/New_York", duration_s=3600,
                   min_replicas=20)
POOL = NodePool(name="p", gpus_per_node=8, max_nodes=10)


FAST_UP = Behavior(scale_up=ScalingRules(stabilization_window_seconds=0,
                                         policies=(ScalingPolicy(type="Pods", value=1000, period_seconds=15),)))


def _target(*schedules: CronEvent, behavior: Behavior = FAST_UP) -> Target:
    return target_of(workload={"capacity_per_replica": 10.0, "pod_startup_s": 180},
                     scaling={"target_utilisation": 0.5, "max_replicas": 50, "behavior": behavior},
                     events={"cron": schedules})


def _decide(target: Target, wall: datetime, events: tuple[Window, ...] = ()) -> tuple[int, str, dict[str, int]]:
    obs = Observation(t=0.0, step_s=60.0, demand_history=np.array([10.0]), current_replicas=2, ready_replicas=2,
                      wall_s=wall.timestamp(), events=events)
    d, _ = ReactivePolicy(target).decide(obs, PolicyHistory())
    return d.replicas, d.reason, dict(d.candidates)


@pytest.mark.parametrize(("wall", "expected", "reason"), [
    (datetime(2026, 3, 9, 8, 56, 59, tzinfo=NY), 2, "reactive"),  # Monday, before the pre-warm
    (datetime(2026, 3, 9, 8, 57, tzinfo=NY), 20, "event"),  # pod_startup_s (180 s) early: Ready at 09:00
    (datetime(2026, 3, 9, 9, 59, tzinfo=NY), 20, "event"),
    (datetime(2026, 3, 9, 10, 0, tzinfo=NY), 2, "reactive"),  # an hour long
    (datetime(2026, 3, 7, 8, 58, tzinfo=NY), 2, "reactive"),  # Saturday
    (datetime(2026, 11, 2, 8, 58, tzinfo=NY), 20, "event"),  # after the DST change: still 09:00 local
], ids=["before-prewarm", "prewarm-start", "last-minute", "ended", "weekend", "after-dst-change"])
def test_a_cron_event_floors_replicas_from_lead_time_before_it(wall: datetime, expected: int, reason: str) -> None:
    replicas, got_reason, candidates = _decide(_target(LAUNCH), wall)
    assert (replicas, got_reason) == (expected, reason)
    assert ("event" in candidates) == (reason == "event")


def test_a_multiplier_event_scales_the_recommendation_and_an_announced_window_counts() -> None:
    wall = datetime(2026, 3, 9, 12, 0, tzinfo=NY)
    announced = Window(wall.timestamp() - 60, wall.timestamp() + 600, None, 3.0, "webhook:abc", "mail campaign")
    replicas, reason, candidates = _decide(_target(), wall, (announced,))
    assert (replicas, reason, candidates["event"]) == (6, "event", 6)  # hpa says 2; × 3


def test_a_floor_below_the_recommendation_changes_nothing_but_is_reported() -> None:
    wall = datetime(2026, 3, 9, 12, 0, tzinfo=NY)
    low = Window(wall.timestamp() - 60, wall.timestamp() + 600, 1, None, "webhook:x", "small")
    replicas, reason, candidates = _decide(_target(), wall, (low,))
    assert (replicas, reason, candidates) == (2, "reactive", {"reactive": 2, "event": 1})


def test_the_event_floor_is_still_bounded_by_max_replicas() -> None:
    big = CronEvent(name="big", schedule="0 9 * * *", duration_s=600, min_replicas=500)
    replicas, reason, _ = _decide(_target(big), datetime(2026, 3, 9, 9, 1, tzinfo=ZoneInfo("UTC")))
    assert (replicas, reason) == (50, "event/bound:max")


def test_behaviour_acts_after_the_floor() -> None:
    replicas, reason, candidates = _decide(_target(LAUNCH, behavior=Behavior()), datetime(2026, 3, 9, 9, 0, tzinfo=NY))
    assert (replicas, reason, candidates["event"]) == (6, "event/rate:up", 20)  # default: max(+4, +100 %) per 15 s
