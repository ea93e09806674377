"""Stockout detection (pure): a request outstanding past factor × node lead marks the pool; a node that arrives, or
nothing outstanding, ends it; hostile inputs give a typed error or a consistent result."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forecastscale.config import NodePool
from forecastscale.errors import PolicyInputError
from forecastscale.policy.stockout import MAX_NODES, Supply, limit_s, watch

LIMIT = 1800.0  # 3 × 600 s


@pytest.mark.parametrize(("prev", "ready", "starting", "t", "expected"), [
    (Supply(2), 2, 0, 100.0, Supply(2)),
    (Supply(2), 2, 3, 100.0, Supply(2, 100.0)),
    (Supply(2, 100.0), 2, 3, 1899.0, Supply(2, 100.0)),
    (Supply(2, 100.0), 2, 3, 1900.0, Supply(2, 100.0, 1900.0)),
    (Supply(2, 100.0, 1900.0), 2, 1, 5000.0, Supply(2, 100.0, 1900.0)),
    (Supply(2, 100.0, 1900.0), 3, 1, 5000.0, Supply(3, 5000.0)),
    (Supply(2, 100.0, 1900.0), 3, 0, 5000.0, Supply(3)),
    (Supply(2, 100.0, 1900.0), 2, 0, 5000.0, Supply(2)),
    (Supply(5, 100.0), 4, 3, 1900.0, Supply(4, 100.0, 1900.0)),
], ids=["nothing-outstanding", "request-starts-waiting", "just-under-the-limit", "at-the-limit-stocked-out",
        "stays-stocked-out", "a-node-arrives-delivering-again", "request-satisfied", "request-withdrawn",
        "a-node-lost-is-no-delivery"])
def test_watch(prev: Supply, ready: int, starting: int, t: float, expected: Supply) -> None:
    assert watch(prev, ready, starting, t, LIMIT) == expected


@pytest.mark.parametrize(("startup", "factor", "learned", "limit"), [
    (600, 3, None, 1800), (420, 1, None, 420), (0, 5, None, 0), (600, 3, 900.0, 2700)],
    ids=["default-factor", "factor-one", "instant-nodes", "learned-lead"])
def test_the_limit_is_factor_times_the_node_lead(startup: float, factor: float, learned: float | None,
                                                 limit: float) -> None:
    pool = NodePool(name="p", gpus_per_node=8, max_nodes=4, node_startup_s=startup, stockout_factor=factor)
    assert limit_s(pool, learned) == limit


@pytest.mark.parametrize(("ready", "starting", "t", "limit", "prev", "field"), [
    (-1, 0, 0.0, LIMIT, Supply(), "ready"),
    (0, MAX_NODES + 1, 0.0, LIMIT, Supply(), "starting"),
    (1.5, 0, 0.0, LIMIT, Supply(), "ready"),
    (True, 0, 0.0, LIMIT, Supply(), "ready"),
    (0, 0, math.nan, LIMIT, Supply(), "time"),
    (0, 0, math.inf, LIMIT, Supply(), "time"),
    (0, 0, 0.0, -1.0, Supply(), "limit"),
    (0, 1, 10.0, LIMIT, Supply(0, 20.0), "before"),
], ids=["negative-ready", "absurd-starting", "fractional", "bool", "nan-time", "inf-time", "negative-limit",
        "time-backwards"])
def test_impossible_inputs_are_a_typed_error_naming_them(ready: object, starting: object, t: float, limit: float,
                                                         prev: Supply, field: str) -> None:
    with pytest.raises(PolicyInputError, match=field):
        watch(prev, ready, starting, t, limit)  # type: ignore[arg-type]


counts = st.one_of(st.integers(-5, MAX_NODES + 5), st.floats(allow_nan=True), st.booleans())
times = st.one_of(st.floats(-1e6, 1e9), st.just(math.nan), st.just(math.inf))


@given(st.lists(st.tuples(counts, counts, times), max_size=30), st.floats(-10, 1e5))
def test_any_sequence_gives_a_typed_error_or_a_consistent_supply(ticks: list[tuple[object, object, float]],
                                                                 limit: float) -> None:
    s = Supply()
    for ready, starting, t in ticks:
        try:
            nxt = watch(s, ready, starting, t, limit)  # type: ignore[arg-type]
        except PolicyInputError:
            continue
        assert nxt.ready == ready
        if starting == 0:
            assert nxt == Supply(nxt.ready)  # nothing outstanding: not waiting, not stocked out
        else:
            assert nxt.waiting_since is not None and nxt.waiting_since <= t
        if nxt.stocked_out_since is not None:
            assert nxt.waiting_since is not None and nxt.stocked_out_since - nxt.waiting_since >= limit
            assert not isinstance(ready, bool) and ready <= s.ready  # never while a node arrives
        s = nxt
