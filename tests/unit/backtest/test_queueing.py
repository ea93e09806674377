"""Queue-aware serving: FIFO drain, drops after max_wait_s, sub-steps, warm-up, weighted p99, validation.

Units: demand and capacity are rates (units/s); a step of ``step_s`` seconds carries rate × step_s units.
"""

from __future__ import annotations

import numpy as np
import pytest

from forecastscale.backtest.queueing import ServeStats, serve, weighted_quantile
from forecastscale.types import FloatArray


def _a(*x: float) -> FloatArray:
    return np.array(x, dtype=float)


def _old_unserved_pct(demand: FloatArray, capacity: FloatArray) -> float:
    """The previous meaning: demand above capacity, lost at once."""
    return float(100.0 * np.maximum(demand - capacity, 0.0).sum() / demand.sum())


@pytest.mark.parametrize("resolution_s", [5.0, 60.0], ids=["sub5s", "sub60s"])
@pytest.mark.parametrize("seed", [0, 1])
def test_no_queueing_when_capacity_covers_demand(seed: int, resolution_s: float) -> None:
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0.0, 10.0, 200)
    capacity = demand + rng.uniform(0.0, 1.0, 200)
    capacity[::7] = demand[::7]  # equality is "covers" too
    s = serve(demand, capacity, 60.0, resolution_s=resolution_s)
    assert s.arrived == pytest.approx(demand.sum() * 60.0)
    assert (s.dropped, s.queued, s.unserved_pct, s.queued_pct, s.p99_wait_s) == (0.0, 0.0, 0.0, 0.0, 0.0)


def test_fifo_drain_one_step() -> None:
    # step 0: 10/s × 60 s = 600 arrive, 5/s × 60 s = 300 served at once, 300 queued.
    # step 1: those 300 are 1 step (60 s) old, not > 60 s: served with wait 60. Step 2 idles.
    # queued 300 / 600 = 50 %; served 300 @ 0 s and 300 @ 60 s → 50 % < 99 % at 0 s, so p99 = 60 s.
    s = serve(_a(10, 0, 0), _a(5, 5, 5), 60.0, max_wait_s=60.0, resolution_s=60.0)
    assert s == ServeStats(arrived=600.0, dropped=0.0, queued=300.0, unserved_pct=0.0, queued_pct=50.0,
                           p99_wait_s=60.0)


@pytest.mark.parametrize(("capacity", "max_wait_s", "dropped", "p99"), [
    # 300 queued at step 0; no capacity at step 1 (age 60 s, kept); at step 2 age 120 s > 60 s: dropped.
    # Served: only the 300 at 0 s → p99 = 0.
    ((5, 0, 0, 0), 60.0, 300.0, 0.0),
    # max_wait 120 s: still 120 s old at step 2 (not > 120), but no capacity; dropped at step 3 (180 s).
    ((5, 0, 0, 0), 120.0, 300.0, 0.0),
    # max_wait 120 s and capacity at step 2: the 300 are served after 120 s.
    # Served 300 @ 0 and 300 @ 120 → p99 = 120.
    ((5, 0, 5, 0), 120.0, 0.0, 120.0),
], ids=["dropped-60s", "dropped-120s", "served-at-120s"])
def test_drop_after_max_wait(capacity: tuple[float, ...], max_wait_s: float, dropped: float, p99: float) -> None:
    s = serve(_a(10, 0, 0, 0), _a(*capacity), 60.0, max_wait_s=max_wait_s, resolution_s=60.0)
    assert (s.arrived, s.dropped, s.queued, s.p99_wait_s) == (600.0, dropped, 300.0, p99)
    assert s.unserved_pct == pytest.approx(100.0 * dropped / 600.0)


@pytest.mark.parametrize("resolution_s", [5.0, 60.0], ids=["sub5s", "sub60s"])
def test_zero_max_wait_drops_demand_above_capacity_at_once(resolution_s: float) -> None:
    # Above capacity: step 0 (10-5)·60 = 300, step 1 none, step 2 (8-5)·60 = 180 → 480 of 21·60 = 1260
    # dropped = 38.095…%, the old meaning. Everything that queued was dropped; the served never waited.
    demand, capacity = _a(10, 3, 8), _a(5, 5, 5)
    s = serve(demand, capacity, 60.0, max_wait_s=0.0, resolution_s=resolution_s)
    assert (s.arrived, s.dropped, s.queued, s.p99_wait_s) == pytest.approx((1260.0, 480.0, 480.0, 0.0))
    assert s.unserved_pct == pytest.approx(100.0 * 480.0 / 1260.0)
    assert s.unserved_pct == pytest.approx(_old_unserved_pct(demand, capacity))


def test_zero_max_wait_matches_old_unserved_on_random_data() -> None:
    rng = np.random.default_rng(3)
    demand, capacity = rng.uniform(0.0, 10.0, 500), rng.uniform(0.0, 10.0, 500)
    s = serve(demand, capacity, 60.0, max_wait_s=0.0)
    assert s.unserved_pct == pytest.approx(_old_unserved_pct(demand, capacity))
    assert s.queued == pytest.approx(s.dropped)


@pytest.mark.parametrize(("start", "unserved_pct", "p99"), [
    # step 0: 600 arrive, 300 served @ 0 s, 300 queued (a).
    # step 1: (a) is 60 s old and takes all 300 of capacity (wait 60 s); the 600 new ones queue (b).
    # step 2: no capacity; (b) is 60 s old, kept.  step 3: (b) is 120 s old > 60 s: all 600 dropped.
    # All counted: 600 of 1200 dropped; served 300 @ 0 s, 300 @ 60 s → p99 60 s.
    # (LIFO would serve 300 of (b) at step 1 and drop (a): p99 = 0.)
    (0, 50.0, 60.0),
    # Only step 1 counted: its 600 are all dropped, the older backlog having been served first
    # (LIFO would drop only 300 of them: 50 %). Nothing counted served → p99 0.
    (1, 100.0, 0.0),
], ids=["all-counted", "newer-only"])
def test_fifo_serves_older_backlog_before_newer_arrivals(start: int, unserved_pct: float, p99: float) -> None:
    s = serve(_a(10, 10, 0, 0), _a(5, 5, 0, 0), 60.0, start=start, max_wait_s=60.0, resolution_s=60.0)
    assert (s.unserved_pct, s.p99_wait_s) == (unserved_pct, p99)


def test_fifo_within_the_backlog_oldest_first() -> None:
    # max_wait 120 s, one sub-step per step. Counted: step 1 only.
    # step 0: 600 arrive, 300 served, 300 queue (a).  step 1: no capacity; 600 queue (b).
    # step 2: 300 of capacity serve (a) after 120 s (not > 120). step 3: 300 of (b) served after 120 s.
    # step 4: the other 300 of (b) are 180 s old: dropped. Counted (b): 300 of 600 dropped, p99 120 s.
    # (Newest first would serve 300 of (b) @ 60 s at step 2 and 300 @ 120 s at step 3: none dropped.)
    s = serve(_a(10, 10, 0, 0, 0), _a(5, 0, 5, 5, 0), 60.0, start=1, max_wait_s=120.0, resolution_s=60.0)
    assert s == ServeStats(600.0, 300.0, 600.0, 50.0, 100.0, 120.0)


def test_wait_of_exactly_max_wait_is_kept_despite_float_rounding() -> None:
    # h = 0.1 s and max_wait 0.3 s = 3 sub-steps, though 0.3 / 0.1 = 2.9999999999999996 in floats.
    # step 0: 1 unit arrives per sub-step, no capacity. step 1 (sub-steps 10–19), 1 unit per sub-step:
    # at 10, units from 0–6 are > 3 sub-steps old: dropped; 7, 8, 9 are served at 10, 11, 12, each 3
    # sub-steps (0.3 s) old. → 7 of 10 dropped, p99 0.3 s.
    s = serve(_a(10, 0), _a(0, 10), 1.0, max_wait_s=0.3, resolution_s=0.1)
    assert (s.arrived, s.dropped, s.queued) == (10.0, 7.0, 10.0)
    assert s.p99_wait_s == pytest.approx(0.3)


@pytest.mark.parametrize(("resolution_s", "max_wait_s", "expected"), [
    # h = 5 s, 12 sub-steps: 12/s → 60 arrive, 11/s → 55 served per sub-step. In step 0, sub-step k
    # first serves the 5k left from k-1 (wait 5 s), then 55 - 5k new ones; 5(k+1) queue.
    # Served @ 0 s: Σ(55-5k, k=0..11) = 330; @ 5 s: Σ5k = 330. Step 1 (no arrivals) starts with 60
    # of age 1: 55 served @ 5 s, 5 @ 10 s. → 330 @ 0, 385 @ 5, 5 @ 10; queued 720 - 330 = 390.
    # p99: 99 % of 720 = 712.8; cumulative 330 @ 0 s, 715 @ 5 s → 5 s.
    (5.0, 60.0, ServeStats(720.0, 0.0, 390.0, 0.0, 100.0 * 390 / 720, 5.0)),
    # max_wait 5 s: the last 5 are 10 s old at sub-step 13: dropped. Served 715, 99 % = 707.85 → 5 s.
    (5.0, 5.0, ServeStats(720.0, 5.0, 390.0, 100.0 * 5 / 720, 100.0 * 390 / 720, 5.0)),
    # One sub-step per step: 660 served at once, 60 wait a whole step. 660/720 = 91.7 % < 99 % → 60 s.
    (60.0, 60.0, ServeStats(720.0, 0.0, 60.0, 0.0, 100.0 * 60 / 720, 60.0)),
], ids=["sub5s", "sub5s-wait5s", "sub60s"])
def test_sub_step_resolution(resolution_s: float, max_wait_s: float, expected: ServeStats) -> None:
    s = serve(_a(12, 0), _a(11, 11), 60.0, max_wait_s=max_wait_s, resolution_s=resolution_s)
    assert s.arrived == expected.arrived
    assert s.dropped == expected.dropped
    assert s.queued == pytest.approx(expected.queued)
    assert s.unserved_pct == pytest.approx(expected.unserved_pct)
    assert s.queued_pct == pytest.approx(expected.queued_pct)
    assert s.p99_wait_s == expected.p99_wait_s


@pytest.mark.parametrize(("resolution_s", "h"), [(5.0, 5.0), (7.0, 60.0 / 9)], ids=["h5s", "h6.67s"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_waits_are_whole_sub_steps_within_max_wait(seed: int, resolution_s: float, h: float) -> None:
    # Demand above capacity in one step only, by 1.5–3×: waits build up, some work may drop.
    rng = np.random.default_rng(seed)
    capacity = rng.uniform(5.0, 10.0, 8)
    demand = capacity * rng.uniform(0.2, 0.9, 8)
    demand[3] = capacity[3] * rng.uniform(1.5, 3.0)
    s = serve(demand, capacity, 60.0, max_wait_s=60.0, resolution_s=resolution_s)
    assert 0.0 < s.p99_wait_s <= 60.0 + 1e-9
    assert s.p99_wait_s / h == pytest.approx(round(s.p99_wait_s / h))
    assert s.queued > 0.0


@pytest.mark.parametrize(("demand", "start", "expected"), [
    # step 0 (warm-up): 600 arrive, 300 served, 300 queue. step 1: the warm-up 300 take all 300 of
    # capacity, so the 4/s × 60 = 240 counted arrivals all queue; step 2 serves them after 60 s.
    ((10, 4, 0), 1, ServeStats(240.0, 0.0, 240.0, 0.0, 100.0, 60.0)),
    # Without the warm-up backlog the same 240 are served at once.
    ((0, 4, 0), 1, ServeStats(240.0, 0.0, 0.0, 0.0, 0.0, 0.0)),
    # All counted: 840 arrive; 540 queue (300 + 240); served 300 @ 0 s, 540 @ 60 s → p99 60 s.
    ((10, 4, 0), 0, ServeStats(840.0, 0.0, 540.0, 0.0, 100.0 * 540 / 840, 60.0)),
], ids=["warm-up-backlog", "no-warm-up-backlog", "all-counted"])
def test_start_excludes_warm_up_arrivals_but_not_their_backlog(
    demand: tuple[float, ...], start: int, expected: ServeStats,
) -> None:
    s = serve(_a(*demand), _a(5, 5, 5), 60.0, start=start, max_wait_s=60.0, resolution_s=60.0)
    assert s.arrived == expected.arrived
    assert (s.dropped, s.queued, s.unserved_pct, s.p99_wait_s) == (
        expected.dropped, expected.queued, expected.unserved_pct, expected.p99_wait_s)
    assert s.queued_pct == pytest.approx(expected.queued_pct)


def test_warm_up_drops_are_not_counted() -> None:
    # 300 of the warm-up step's 600 drop at step 2; no counted arrivals → all zeros.
    demand, capacity = _a(10, 0, 0), _a(5, 0, 0)
    assert serve(demand, capacity, 60.0, start=1, resolution_s=60.0) == ServeStats(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert serve(demand, capacity, 60.0, start=0, resolution_s=60.0).unserved_pct == 50.0
    # With counted arrivals: step 0 (warm-up) queues 300; step 1 has no capacity, its 60 queue behind.
    # step 2: the warm-up 300 are 120 s old: dropped, not counted; the 60 are served after 60 s.
    s = serve(_a(10, 1, 0), _a(5, 0, 5), 60.0, start=1, resolution_s=60.0)
    assert s == ServeStats(60.0, 0.0, 60.0, 0.0, 100.0, 60.0)


@pytest.mark.parametrize(("capacity", "expected"), [
    # 600 arrive, 300 served, 300 waiting at the end: the last capacity (5/s) serves them after 60 s.
    # Served 300 @ 0 s, 300 @ 60 s → p99 60 s.
    (5.0, ServeStats(600.0, 0.0, 300.0, 0.0, 50.0, 60.0)),
    # 2.5/s: 150 served at once, 450 queue; after 60 s 150 more; after 120 s (> 60 s) the last 300 drop.
    # Served 150 @ 0 s, 150 @ 60 s → p99 60 s.
    (2.5, ServeStats(600.0, 300.0, 450.0, 50.0, 75.0, 60.0)),
    # No capacity: nothing will ever be served, all 600 drop.
    (0.0, ServeStats(600.0, 600.0, 600.0, 100.0, 100.0, 0.0)),
], ids=["drained", "partly-dropped", "no-capacity"])
def test_backlog_left_at_the_end_is_served_by_the_last_capacity(capacity: float, expected: ServeStats) -> None:
    assert serve(_a(10), _a(capacity), 60.0, resolution_s=60.0) == expected


@pytest.mark.parametrize(("capacity", "p99"), [
    # step_s 1, one sub-step: 100 arrive, 99 served @ 0 s, 1 @ 1 s. 99/100 >= 99 % → p99 = 0 s.
    (99.0, 0.0),
    # 98 @ 0 s, 2 @ 1 s: 98 % < 99 % at 0 s, 100 % at 1 s → p99 = 1 s.
    (98.0, 1.0),
], ids=["99pct-at-0", "98pct-at-0"])
def test_weighted_p99_via_serve(capacity: float, p99: float) -> None:
    s = serve(_a(100, 0), _a(capacity, 100), 1.0, max_wait_s=60.0, resolution_s=1.0)
    assert s.p99_wait_s == p99


@pytest.mark.parametrize(("values", "weights", "q", "expected"), [
    # sorted: 0 s weighs 98, 5 s 1, 60 s 1; cumulative 98, 99, 100 of 100.
    ((60, 0, 5), (1, 98, 1), 0.99, 5.0),   # first cumulative >= 99 is at 5 s
    ((60, 0, 5), (1, 98, 1), 0.98, 0.0),   # 98 >= 98 already at 0 s
    ((60, 0, 5), (1, 98, 1), 1.0, 60.0),
    ((0, 60), (50, 50), 0.99, 60.0),       # the FIFO-drain case: half waited 60 s
    ((0, 60), (50, 50), 0.5, 0.0),         # lower definition: no interpolation to 30 s
], ids=["p99", "p98", "p100", "half-60", "median-lower"])
def test_weighted_quantile(values: tuple[float, ...], weights: tuple[float, ...], q: float, expected: float) -> None:
    assert weighted_quantile(_a(*values), _a(*weights), q) == expected


def test_weighted_quantile_tolerates_float_sums() -> None:
    # 99 % of the weight at 0 s in 49 equal pieces, 1 % at 60 s. In floats the 49 pieces sum to a hair
    # under 0.99 × the total (0.0296999…63 < 0.0296999…66), yet exactly 99 % waited 0 s → p99 = 0.
    weights = np.array([0.99 * 0.03 / 49] * 49 + [0.01 * 0.03])
    values = np.array([0.0] * 49 + [60.0])
    assert np.cumsum(weights)[48] < 0.99 * weights.sum()  # the float hazard is real here
    assert weighted_quantile(values, weights, 0.99) == 0.0


@pytest.mark.parametrize(("q", "weights"), [(0.0, (1, 1)), (1.5, (1, 1)), (0.5, (0, 0))],
                         ids=["q0", "q-above-1", "zero-weights"])
def test_weighted_quantile_rejects_bad_input(q: float, weights: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match=r"q must be|positive total"):
        weighted_quantile(_a(0, 1), _a(*weights), q)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"demand": _a(1, 2), "capacity": _a(1)}, "lengths differ"),
    ({"demand": _a(1, -1)}, "demand must be finite and >= 0"),
    ({"capacity": _a(-0.5, 1)}, "capacity must be finite and >= 0"),
    ({"demand": _a(1, np.nan)}, "demand must be finite"),
    ({"demand": np.ones((2, 1)), "capacity": np.ones((2, 1))}, "must be 1-D"),
    ({"step_s": 0.0}, "step_s and resolution_s must be > 0"),
    ({"step_s": -60.0}, "step_s and resolution_s must be > 0"),
    ({"resolution_s": 0.0}, "step_s and resolution_s must be > 0"),
    ({"max_wait_s": -1.0}, "max_wait_s must be >= 0"),
    ({"max_wait_s": float("nan")}, "max_wait_s must be >= 0"),
    ({"start": 3}, "start must be in"),
    ({"start": -1}, "start must be in"),
], ids=["lengths", "neg-demand", "neg-capacity", "nan-demand", "2-d", "step-0", "step-neg", "resolution-0",
        "max-wait-neg", "max-wait-nan", "start-past-end", "start-neg"])
def test_serve_rejects_bad_input(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"demand": _a(1, 2), "capacity": _a(2, 2), "step_s": 60.0} | kwargs
    with pytest.raises(ValueError, match=match):
        serve(**args)  # type: ignore[arg-type]
