"""DemandHistory: a sliding window on the absolute step grid, holes kept as NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest

from forecastscale.service.history import DemandHistory, problem_counts


def test_first_put_sets_the_offset_and_appends_extend() -> None:
    h = DemandHistory(10)
    h.put(100, np.array([1.0, 2.0]))
    h.put(102, np.array([3.0]))
    assert (h.offset, h.end, list(h.values)) == (100, 103, [1.0, 2.0, 3.0])


def test_skipped_steps_become_nan_and_filled_bridges_them() -> None:
    h = DemandHistory(10)
    h.put(0, np.array([1.0]))
    h.put(3, np.array([4.0]))
    assert np.isnan(h.values[1:3]).all()
    assert h.filled()[0] == 0 and list(h.filled()[1]) == [1.0, 2.0, 3.0, 4.0]


def test_leading_nan_is_left_out_not_invented() -> None:
    h = DemandHistory(10)
    h.put(100, np.array([math.nan, math.nan, 5.0, math.nan, 7.0]))
    offset, values = h.filled()
    assert offset == 102 and list(values) == [5.0, 6.0, 7.0]


def test_steps_before_the_end_are_ignored() -> None:
    h = DemandHistory(10)
    h.put(5, np.array([1.0, 2.0]))
    h.put(4, np.array([9.0, 9.0, 9.0, 3.0]))  # 4..7: only step 7 is new
    assert list(h.values) == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("n_puts", [7, 25, 101], ids=["under-buffer", "compacts", "many-compactions"])
def test_window_keeps_at_least_the_last_window_steps(n_puts: int) -> None:
    h = DemandHistory(5)
    for k in range(n_puts):
        h.put(1000 + k, np.array([float(k)]))
    assert h.end == 1000 + n_puts
    assert len(h) >= min(5, n_puts) and len(h) <= 10
    assert list(h.values[-5:]) == [float(k) for k in range(n_puts - 5, n_puts)][-len(h.values[-5:]):]
    assert h.offset == h.end - len(h)


def test_a_put_longer_than_the_window_keeps_its_tail() -> None:
    h = DemandHistory(4)
    h.put(0, np.array([0.0]))
    h.put(10, np.arange(10.0, 30.0))
    assert (h.offset, h.end, list(h.values)) == (26, 30, [26.0, 27.0, 28.0, 29.0])


def test_last_usable_is_none_for_a_nan_newest_step() -> None:
    h = DemandHistory(4)
    h.put(0, np.array([1.0, math.nan]))
    assert h.last_usable() is None
    h.put(2, np.array([2.0]))
    assert h.last_usable() == 2.0


@pytest.mark.parametrize(("value", "counts"), [
    (math.nan, {"missing": 1}), (math.inf, {"inf": 1}), (-math.inf, {"inf": 1}), (-1.0, {"negative": 1}),
    (0.0, {}), (3.5, {}),
], ids=["missing-or-nan", "inf", "minus-inf", "negative", "zero", "positive"])
def test_problem_counts_one_value(value: float, counts: dict[str, int]) -> None:
    assert problem_counts(np.array([value])) == counts


def test_problem_counts_a_mixed_span() -> None:
    values = np.array([1.0, math.nan, -2.0, math.nan, math.inf, 0.0, -0.5])
    assert problem_counts(values) == {"missing": 2, "inf": 1, "negative": 2}


def test_all_nan_history_fills_to_empty() -> None:
    h = DemandHistory(4)
    h.put(0, np.array([math.nan, math.nan]))
    offset, values = h.filled()
    assert (offset, len(values)) == (2, 0)
