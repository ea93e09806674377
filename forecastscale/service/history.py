"""A target's demand history on the clock's grid: a sliding window with holes, for the live loop.

Step ``k`` (absolute: counted from the Unix epoch in steps of ``step_s`` seconds) holds the
demand over ``[k·step_s, (k+1)·step_s)``, i.e. the query evaluated at ``(k+1)·step_s``. Missing or
unusable samples are kept as NaN here and are never fed to a model: :meth:`DemandHistory.filled`
bridges them linearly, as the backtest's trace loader does.
"""

from __future__ import annotations

import math

import numpy as np

from forecastscale.types import FloatArray


def usable(value: float | None) -> bool:
    """True for a finite, non-negative sample (a demand rate cannot be negative)."""
    return value is not None and math.isfinite(value) and value >= 0


def problem_counts(values: FloatArray) -> dict[str, int]:
    """How many of ``values`` are unusable, by reason: ``missing`` (NaN: Prometheus had no sample or
    gave NaN), ``inf`` (±Inf), ``negative``; reasons with no sample are left out."""
    finite = np.isfinite(values)
    counts = {"missing": int(np.isnan(values).sum()), "inf": int(np.isinf(values).sum()),
              "negative": int((finite & (values < 0)).sum())}
    return {reason: n for reason, n in counts.items() if n}


class DemandHistory:
    """The last ``window_steps`` steps of demand (NaN = no usable sample), by absolute step."""

    def __init__(self, window_steps: int) -> None:
        if window_steps < 1:
            raise ValueError(f"window_steps must be >= 1, got {window_steps}")
        self.window = window_steps
        # Twice the window, compacted when full: appends stay O(1) amortised without a copy per tick.
        self._buf: FloatArray = np.full(2 * window_steps, np.nan)
        self._len = 0
        self.offset = 0  # absolute step of values[0]

    def __len__(self) -> int:
        return self._len

    @property
    def end(self) -> int:
        """The absolute step after the last one held (where the next value goes)."""
        return self.offset + self._len

    @property
    def values(self) -> FloatArray:
        """The held steps, NaN where no usable sample arrived (a view: do not modify)."""
        return self._buf[: self._len]

    def put(self, first: int, values: FloatArray) -> None:
        """Store ``values`` at absolute steps ``first, first + 1, …``; skipped steps become NaN.

        Steps before the current end are ignored (the history only moves forward); at least the
        last ``window`` steps are kept.
        """
        if self._len == 0:
            self.offset = first
        values = np.asarray(values, dtype=np.float64)
        skip = max(0, self.end - first)
        values, first = values[skip:], first + skip
        if len(values) == 0:
            return
        new_end = first + len(values)
        if new_end - self.offset > len(self._buf):
            self._compact(max(self.offset, new_end - self.window))
        if first < self.offset:  # only after a compaction: the new data alone outlasts the window
            values, first = values[self.offset - first:], self.offset
        self._buf[self._len: first - self.offset] = np.nan
        self._buf[first - self.offset: new_end - self.offset] = values
        self._len = new_end - self.offset

    def _compact(self, keep_from: int) -> None:
        """Drop the steps before absolute step ``keep_from``, moving the rest to the buffer's start."""
        kept = max(0, self.end - keep_from)
        self._buf[:kept] = self._buf[self._len - kept: self._len]
        self._buf[kept:] = np.nan
        self.offset, self._len = keep_from, kept

    def last_usable(self) -> float | None:
        """The newest step's value if it is usable, else None."""
        if self._len == 0:
            return None
        v = float(self._buf[self._len - 1])
        return v if usable(v) else None

    def filled(self) -> tuple[int, FloatArray]:
        """``(offset, values)`` from the first usable step on, inner NaN bridged linearly.

        Steps before the first usable one are left out rather than invented; a NaN tail (only
        while data is missing, when the loop holds instead of deciding) is held flat.
        """
        v = self.values
        bad = np.isnan(v)
        good = np.flatnonzero(~bad)
        if len(good) == 0:
            return self.end, np.empty(0)
        first = int(good[0])
        if not bad.any():
            return self.offset, v.copy()
        out: FloatArray = v[first:].copy()
        holes = np.flatnonzero(bad[first:])
        out[holes] = np.interp(holes, good - first, v[good])
        return self.offset + first, out
