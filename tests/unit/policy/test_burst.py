"""Panic mode: entered after window_s of demand above upper × factor, held hold_s after the last excess."""

from __future__ import annotations

import math

import pytest

from forecastscale.config.events import BurstSettings
from forecastscale.policy.burst import BurstState, Sample, burst, effective_demand, surprise

ON = BurstSettings(enabled=True, factor=1.5, window_s=60, hold_s=300)
UPPER = 10.0  # threshold: demand > 15


def run(demands: list[tuple[float, float]], settings: BurstSettings = ON) -> list[bool]:
    """Feed one sample per call (as ticks would); the panic flag after each."""
    state, flags = BurstState(), []
    for t, d in demands:
        result = burst([Sample(t, d, UPPER)], settings, state)
        state = result.state
        flags.append(result.panic)
    return flags


@pytest.mark.parametrize(("demands", "expected"), [
    ([(0, 20), (30, 20), (60, 10)], [False, False, False]),
    ([(0, 20), (30, 20), (60, 20)], [False, False, True]),
    ([(0, 15), (30, 15), (60, 15), (90, 15)], [False, False, False, False]),
    ([(0, 20), (30, 20), (45, 12), (60, 20), (90, 20), (120, 20)], [False, False, False, False, False, True]),
    ([(0, 20), (60, 20), (90, 5), (300, 5), (359, 5), (360, 5), (420, 20)],
     [False, True, True, True, True, False, False]),
    ([(0, 20), (60, 20), (200, 20), (400, 5), (499, 5), (500, 5)], [False, True, True, True, True, False]),
    ([(0, 20), (30, 20), (60, 20), (400, 5), (430, 20), (460, 20), (490, 20)],
     [False, False, True, False, False, False, True]),
], ids=["short-spike", "sustained", "at-threshold-is-not-excess", "broken-run-restarts", "hold-then-exit",
        "excess-during-panic-extends-hold", "re-entry-needs-a-new-window"])
def test_panic_enters_after_window_and_holds(demands: list[tuple[float, float]], expected: list[bool]) -> None:
    assert run(demands) == expected


def test_zero_window_enters_on_the_first_excess_and_zero_hold_exits_on_the_first_calm_sample() -> None:
    settings = BurstSettings(enabled=True, factor=1.5, window_s=0, hold_s=0)
    assert run([(0, 10), (30, 16), (60, 10)], settings) == [False, True, False]


def test_disabled_never_panics_but_reports_surprise() -> None:
    result = burst([Sample(t, 40, UPPER) for t in range(0, 600, 30)], BurstSettings(enabled=False), BurstState())
    assert not result.panic and result.need is None and result.surprise == 4.0
    assert result.state == BurstState(last_sample_s=570)


def test_need_is_the_peak_since_panic_began_and_does_not_drop_during_panic() -> None:
    state = BurstState()
    needs = []
    for t, d in [(0, 20), (30, 30), (60, 25), (90, 18), (120, 5), (420, 5)]:
        result = burst([Sample(t, d, UPPER)], ON, state)
        state = result.state
        needs.append(result.need)
    assert needs == [None, None, 30, 30, 30, None]  # panic at 60 (run 0..60): the run's peak 30 counts
    assert state.peak_need == 0.0


def test_samples_are_consumed_once_and_batch_order_does_not_matter() -> None:
    samples = [Sample(t, 20, UPPER) for t in (0, 30, 60)]
    once = burst(list(reversed(samples)), ON, BurstState())
    assert once.panic and once.state.panic_since_s == 60
    again = burst(samples, ON, once.state)  # an overlapping window re-sent next tick: nothing new
    assert again.state == once.state and again.surprise is None
    sliding = burst([*samples[1:], Sample(90, 20, UPPER)], ON, once.state)
    assert sliding.state.last_sample_s == 90 and sliding.state.panic_since_s == 60


@pytest.mark.parametrize(("queue", "drain_s", "panic"), [
    (None, 60.0, False),     # demand 10 alone is not above 15
    (600.0, 60.0, True),     # 10 + 600 / 60 = 20 > 15
    (600.0, None, False),    # no drain time: the queue is not counted
    (200.0, 60.0, False),    # 10 + 3.33 = 13.3
], ids=["no-queue", "queue-drains", "no-drain-time", "small-queue"])
def test_queue_adds_the_drain_rate_to_demand(queue: float | None, drain_s: float | None, panic: bool) -> None:
    samples = [Sample(t, 10, UPPER, queue) for t in (0, 30, 60)]
    assert burst(samples, ON, BurstState(), queue_drain_s=drain_s).panic is panic


def test_non_finite_samples_are_skipped_without_breaking_the_run() -> None:
    samples = [Sample(0, 20, UPPER), Sample(30, 20, math.nan), Sample(60, math.nan, UPPER), Sample(60.5, 20, UPPER)]
    result = burst(samples, ON, BurstState())
    assert result.panic and result.state.last_sample_s == 60.5


def test_message_says_why() -> None:
    result = burst([Sample(t, 20, UPPER) for t in (0, 30, 60)], ON, BurstState())
    assert result.message == "panic: demand 20 > 1.5 × upper 10 for 60 s (window 60 s)"
    assert burst([Sample(0, 12, UPPER)], ON, BurstState()).message == "calm: surprise 1.2 (panic above 1.5)"


@pytest.mark.parametrize(("observed", "upper", "expected"), [
    (20, 10, 2.0), (0, 10, 0.0), (5, 0, math.inf), (0, 0, 0.0),
], ids=["double", "idle", "no-forecast-demand", "both-zero"])
def test_surprise_ratio(observed: float, upper: float, expected: float) -> None:
    assert surprise(observed, upper) == expected


def test_effective_demand_ignores_negative_queue() -> None:
    assert effective_demand(Sample(0, 3, 1, -50), 10) == 3
