"""What a replay adds to the traces (config ``backtest:``), on the run's clock: announced events as the service
books them, GPU-health faults and stockouts for the simulator, and the traces' queue, GPU-utilisation and KV-cache
columns.

Run seconds count from the replay's first step (``t = 0``). A ``start`` given as a number is seconds after
the trace file's first row (a ``--window`` replay starts later: its ``offset_s`` is subtracted); one given
as an ISO-8601 date-time is read on the trace's clock — a target's own trace for an event, the first
replayed target's for a pool's fault or stockout. An item wholly outside a whole-trace replay is a
:class:`ConfigError` naming it (a mistyped year would otherwise do nothing); a windowed replay skips it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from forecastscale.backtest.cluster import Fault, Outage
from forecastscale.backtest.scenario import Scenario, resample
from forecastscale.config.backtest import BacktestEvent, BacktestSettings
from forecastscale.config.events import EventRequest
from forecastscale.errors import ConfigError
from forecastscale.policy.event_book import BookedEvent, EventBook, event_id
from forecastscale.sources.csvtrace import COLUMNS
from forecastscale.types import FloatArray


def run_seconds(when: float | datetime, sc: Scenario) -> float:
    """``when`` (seconds after the trace file's first row, or a date-time on the trace's clock) in run seconds."""
    if isinstance(when, datetime):
        return (when - sc.trace.start).total_seconds()
    return when - sc.offset_s


def _span(field: str, start: float, duration_s: float, sc: Scenario) -> tuple[float, float] | None:
    """``[start, start + duration_s)`` in run seconds; None if it misses a windowed replay, ConfigError if it
    misses a whole trace."""
    end = start + duration_s
    if end > 0 and start < sc.trace.duration_s:
        return start, end
    if sc.window is not None:
        return None
    last = sc.trace.start + timedelta(seconds=sc.trace.duration_s)
    raise ConfigError("backtest", [f"{field}: {_iso(sc, start)} → {_iso(sc, end)} is outside {sc.trace.name} "
                                   f"({sc.trace.start.isoformat()} → {last.isoformat()})"])


def _iso(sc: Scenario, run_s: float) -> str:
    return (sc.trace.start + timedelta(seconds=run_s)).isoformat()


def book(settings: BacktestSettings, members: Sequence[Scenario]) -> EventBook:
    """The announced events of the replayed targets, booked as ``POST /v1/events`` books them (UNIX seconds on
    each target's trace clock, booked at the start of the run)."""
    by_name = {sc.target.name: sc for sc in members}
    events = []
    for i, e in enumerate(settings.events):
        sc = by_name.get(e.target)
        span = None if sc is None else _span(f"backtest.events[{i}]", run_seconds(e.start, sc), e.duration_s, sc)
        if sc is not None and span is not None:
            events.append(_booked(e, sc.trace.start.timestamp(), span[0]))
    return EventBook(tuple(events))


def _booked(e: BacktestEvent, epoch: float, start_run_s: float) -> BookedEvent:
    """``e`` as the events API books it (checked as a ``POST /v1/events`` body, with its deterministic id) at the
    run's start ``epoch`` (UNIX seconds of run second 0)."""
    start = datetime.fromtimestamp(epoch + start_run_s, tz=UTC)
    request = EventRequest(target=e.target, start=start, duration_s=e.duration_s, min_replicas=e.min_replicas,
                           multiplier=e.multiplier, reason=e.reason)
    start_s = start.timestamp()
    return BookedEvent(id=event_id(request, start_s), target=e.target, start_s=start_s, end_s=start_s + e.duration_s,
                       min_replicas=e.min_replicas, multiplier=e.multiplier, reason=e.reason, created_s=epoch)


def faults(settings: BacktestSettings, members: Sequence[Scenario], pools: Sequence[str]) -> tuple[Fault, ...]:
    """The health faults on ``pools``, in run seconds (the first replayed target's clock)."""
    out = []
    for i, f in enumerate(settings.health_faults):
        span = _span(f"backtest.health_faults[{i}]", run_seconds(f.start, members[0]), f.duration_s, members[0])
        if f.pool in pools and span is not None:
            out.append(Fault(f.pool, span[0], span[1], gpus=f.gpus or 0, nodes=f.nodes or 0))
    return tuple(out)


def outages(settings: BacktestSettings, members: Sequence[Scenario], pools: Sequence[str]) -> tuple[Outage, ...]:
    """The stockouts on ``pools``, in run seconds (the first replayed target's clock)."""
    out = []
    for i, s in enumerate(settings.stockouts):
        span = _span(f"backtest.stockouts[{i}]", run_seconds(s.start, members[0]), s.duration_s, members[0])
        if s.pool in pools and span is not None:
            out.append(Outage(s.pool, span[0], span[1]))
    return tuple(out)


def columns(sc: Scenario) -> dict[str, FloatArray]:
    """The trace's ``queue``, ``gpu_utilisation`` and ``kv_cache`` columns per decision step (time-weighted means,
    unscaled)."""
    return {name: resample(replace(sc.trace, values=sc.trace.columns[name]), sc.step_s, 1.0)
            for name in COLUMNS if name in sc.trace.columns}
