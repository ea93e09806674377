"""HPA v2 behaviour: stabilisation windows, rate policies, bounds — on explicit history."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from forecastscale.config import Behavior, ScalingPolicy, ScalingRules
from forecastscale.policy.behavior import BehaviorHistory, normalize
from forecastscale.types import Limit

DEFAULT = Behavior()


def _replay(desired: Sequence[int], start: int, step_s: float, behavior: Behavior = DEFAULT,
            lo: int = 1, hi: int = 100) -> list[int]:
    """Feed one desired count per step; the scale follows each decision at once (and its event is recorded, as
    the caller does once a change was made)."""
    current, history, out = start, BehaviorHistory(), []
    for k, want in enumerate(desired):
        norm = normalize(want, current, k * step_s, history, behavior, lo, hi)
        current, history = norm.replicas, norm.history.scaled(k * step_s, norm.replicas - current)
        out.append(current)
    return out


def test_scale_down_waits_for_the_highest_recommendation_of_300_s() -> None:
    # Hand-worked: at t=300 the window (0, 300] holds 8, 6, 4, 4 and the new 4 → 8; and so on.
    assert _replay([10, 8, 6, 4, 4, 4, 4, 4], start=10, step_s=60) == [10, 10, 10, 10, 10, 8, 6, 4]


def test_scale_up_limited_to_max_of_4_pods_and_100_percent_per_15_s() -> None:
    # 2 → max(2+4, 2×2) = 6 → max(6+4, 12) = 12 → 24 → 48.
    assert _replay([50] * 4, start=2, step_s=15) == [6, 12, 24, 48]


def test_scale_up_inside_one_period_counts_earlier_events() -> None:
    first = normalize(50, 2, 0.0, BehaviorHistory(), DEFAULT, 1, 100)
    assert (first.replicas, first.limits) == (6, (Limit.RATE_UP,))
    assert first.history.events == ()  # normalize never records the scale event: the caller does, once made
    # 5 s later the +4 is still inside the 15 s period: the period started at 2 → limit 6.
    second = normalize(50, 6, 5.0, first.history.scaled(0.0, 4), DEFAULT, 1, 100)
    assert (second.replicas, second.limits) == (6, (Limit.RATE_UP,))


def test_a_change_that_was_not_made_does_not_use_up_the_rate() -> None:
    first = normalize(50, 2, 0.0, BehaviorHistory(), DEFAULT, 1, 100)  # a standby: nothing is written
    again = normalize(50, 2, 5.0, first.history, DEFAULT, 1, 100)
    assert again.replicas == 6  # the full +4 is still allowed


def _rules(window: int, *policies: tuple[str, int, int], select: str = "Max") -> ScalingRules:
    return ScalingRules(
        stabilization_window_seconds=window, select_policy=select,  # type: ignore[arg-type]
        policies=tuple(ScalingPolicy(type=t, value=v, period_seconds=p) for t, v, p in policies),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(("behavior", "start", "desired", "step_s", "expected"), [
    (Behavior(scale_down=_rules(0, ("Pods", 1, 60))), 10, [2, 2, 2], 30, [9, 9, 8]),
    (Behavior(scale_up=_rules(0, ("Pods", 4, 15), ("Percent", 100, 15), select="Min")), 2, [50], 15, [4]),
    (Behavior(scale_up=_rules(0, ("Pods", 4, 15), select="Disabled")), 2, [50], 15, [2]),
    (Behavior(scale_up=_rules(120, ("Percent", 900, 15))), 2, [2, 9, 9, 9], 60, [2, 2, 9, 9]),
], ids=["down-1-pod-per-60s", "up-select-min", "up-disabled", "up-stabilised-120s"])
def test_policies(behavior: Behavior, start: int, desired: list[int], step_s: float, expected: list[int]) -> None:
    assert _replay(desired, start, step_s, behavior) == expected


@pytest.mark.parametrize(("current", "desired", "expected", "limit"), [
    (60, 200, 64, "bound:max"),
    (2, 0, 1, "bound:min"),
    (100, 100, 64, "bound:range"),
    (10, 10, 10, None),
], ids=["above-max", "below-min", "current-out-of-range", "unchanged"])
def test_bounds(current: int, desired: int, expected: int, limit: str | None) -> None:
    wide = Behavior(scale_up=_rules(0, ("Percent", 1000, 15)), scale_down=_rules(0, ("Percent", 100, 15)))
    norm = normalize(desired, current, 0.0, BehaviorHistory(), wide, 1, 64)
    assert (norm.replicas, [lim.value for lim in norm.limits]) == (expected, [limit] if limit else [])


def test_history_is_pruned_to_what_the_windows_need() -> None:
    history = BehaviorHistory()
    current = 10
    for k in range(100):
        norm = normalize(10 + (k % 3), current, k * 60.0, history, DEFAULT, 1, 100)
        current, history = norm.replicas, norm.history.scaled(k * 60.0, norm.replicas - current)
    assert len(history.recommendations) <= 6  # 300 s window at 60 s steps, plus the newest
    assert all(ts > 99 * 60.0 - 15 for ts, _ in history.events)


def test_docs_example_scale_down_by_the_policy_allowing_most_change() -> None:
    """kubernetes.io HPA docs, "Scaling Policies": Pods 4 and Percent 10 per 60 s, from 80 down to 10.

    "during the first step 8 replicas will be reduced. In the next iteration when the number of
    replicas is 72, 10% of the pods is 7.2 but the number is rounded up to 8" (72 → 64); below 40
    replicas the Pods policy (4) allows more than 10 %.
    """
    behavior = Behavior(scale_down=_rules(0, ("Pods", 4, 60), ("Percent", 10, 60)))
    got = _replay([10] * 16, start=80, step_s=60, behavior=behavior)
    assert got[:3] == [72, 64, 57]  # int(64 × 0.9) = 57: the HPA truncates the kept count
    steps = [a - b for a, b in zip([80, *got], got, strict=False)]
    assert all(s == max(4, (80 if i == 0 else got[i - 1]) - int((80 if i == 0 else got[i - 1]) * 0.9))
               for i, s in enumerate(steps) if got[i] > 10)
    assert got[-1] == 10


def test_docs_example_stabilisation_window_takes_the_highest_recent_recommendation() -> None:
    """Docs: with a 300 s down window the HPA keeps the highest recommendation of the last 5 minutes."""
    behavior = Behavior(scale_down=_rules(300, ("Percent", 100, 15)))
    # No history at first: down to 5 at once; then 9 holds until it leaves the window (t = 360).
    assert _replay([5, 9, 5, 5, 5, 5, 5, 5], start=10, step_s=60, behavior=behavior) == [5, 9, 9, 9, 9, 9, 5, 5]
