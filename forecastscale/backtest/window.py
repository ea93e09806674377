"""Score a backtest over one window of the trace (``backtest --window START/END``).

A known event lasts hours; scored over a whole trace it is a rounding error. With a window the
replay is cut to ``[START − lead-in, END + tail)`` and scored over ``[START, END)`` only:

* lead-in = the longer of the warm-up (``backtest.warmup_s``, default 2 days) and the history a
  refit reads (``forecast.history_s()``), so every fit inside the window sees as much history
  as in a replay of the whole trace (the refit phase may differ by under ``refit_interval_s``);
* tail = node + pod start-up: the oracle looks that far ahead, and the replay must hold it.

Times are on the trace's own clock: ISO-8601, no zone = UTC (as the CSV loader reads them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from forecastscale.backtest.scenario import DEFAULT_WARMUP_S, Scenario, resample, with_regime_change
from forecastscale.config import Config, Target
from forecastscale.errors import ConfigError
from forecastscale.sources.csvtrace import Trace


@dataclass(frozen=True)
class ScoreWindow:
    """The scored span ``[start, end)`` (aware datetimes)."""

    start: datetime
    end: datetime

    def label(self) -> str:
        """``START/END`` in ISO-8601, as given on the command line."""
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


def _when(text: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError("--window", [f"not an ISO-8601 time: {text!r} (e.g. 2015-01-01T00:00)"]) from None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def parse_window(text: str) -> ScoreWindow:
    """``"2014-12-31T23:00/2015-01-01T06:00"`` → a window; ConfigError if malformed or empty."""
    parts = text.split("/")
    if len(parts) != 2:
        raise ConfigError("--window", [f"expected START/END (ISO-8601 times), got {text!r}"])
    window = ScoreWindow(_when(parts[0]), _when(parts[1]))
    if window.end <= window.start:
        raise ConfigError("--window", [f"END must be after START, got {text!r}"])
    return window


def lead_in_s(config: Config, target: Target) -> float:
    """Seconds replayed before the window: the warm-up, or the fit history if that is longer."""
    warmup = config.backtest.warmup_s if config.backtest.warmup_s is not None else DEFAULT_WARMUP_S
    return max(warmup, target.forecast.history_s())


def cut_trace(trace: Trace, first_s: float, last_s: float) -> Trace:
    """Rows of ``trace`` covering ``[first_s, last_s)`` seconds after its start (clipped to it)."""
    lo = max(0, math.floor(first_s / trace.step_s))
    hi = min(len(trace.values), math.ceil(last_s / trace.step_s))
    return replace(trace, start=trace.start + timedelta(seconds=lo * trace.step_s), values=trace.values[lo:hi],
                   columns={name: column[lo:hi] for name, column in trace.columns.items()})


def build_window_scenario(config: Config, target: Target, trace: Trace, window: ScoreWindow) -> Scenario:
    """A scenario replaying ``trace`` (with its regime change, if any) from lead-in before ``window`` to past it,
    scored over ``window``."""
    pool = config.pool_for(target)
    trace = with_regime_change(trace, target)
    start_s = (window.start - trace.start).total_seconds()
    end_s = (window.end - trace.start).total_seconds()
    if start_s <= 0 or end_s > trace.duration_s:
        last = trace.start + timedelta(seconds=trace.duration_s)
        raise ConfigError("--window", [f"{window.label()} is not inside {trace.name} "
                                       f"({trace.start.isoformat()} → {last.isoformat()}, with history before it)"])
    tail_s = config.leads(target).total_s
    cut = cut_trace(trace, start_s - lead_in_s(config, target), end_s + tail_s)
    step = config.backtest.decision_interval_s
    demand = resample(cut, step, target.workload.demand_scale)
    offset_s = (cut.start - trace.start).total_seconds()
    warmup = math.ceil((start_s - offset_s) / step - 1e-9)
    end = min(len(demand), math.ceil((end_s - offset_s) / step - 1e-9))
    if end <= warmup:
        raise ConfigError("--window", [f"{window.label()} is shorter than one decision step ({step:g} s)"])
    return Scenario(cut, target, pool, demand, step, warmup, end, (window.start, window.end), config, offset_s)
