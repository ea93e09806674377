"""What a new leader takes from the persisted plan."""

from __future__ import annotations

from forecastscale.policy.behavior import BehaviorHistory
from forecastscale.service.plan_codec import merged


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
