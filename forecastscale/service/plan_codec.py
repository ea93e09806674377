"""What the leader persists per target and how a new leader reads it back (pure, JSON-able, validated).

The plan holds each target's behaviour history (past recommendations and scale events, the
state of the HPA stabilisation windows and rate policies), the last decision, an SLO's calibrated
margin and a forecast guardrail's scores and state (:mod:`.plan_guardrail`), the events announced over
``/v1/events`` with the tombstones of deleted ones, the lead times measured per target and per pool
(:mod:`forecastscale.policy.leadtimes`: ``{"pod": {target: [s, …]}, "node": {pool: [s, …]}}``), and who wrote it
(the Lease holder and its term). A new leader takes the union with the recommendations it computed itself as
a standby: a recommendation it never saw still counts in its stabilisation window, so a failover
cannot cause a premature scale-down.

Everything read back is checked at the edge (:func:`decode`): a malformed target entry is dropped
for that target alone and reported; times must be sane and not in the future beyond
:data:`MAX_CLOCK_SKEW_S` (a recommendation stamped ahead would pin a target until then); counts
must be whole and bounded. One bad entry never stops the others, nor the tick.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from forecastscale.config.leadtimes import MAX_LEAD_SAMPLES
from forecastscale.edge import epoch, finite, shown, whole
from forecastscale.policy.behavior import BehaviorHistory
from forecastscale.policy.calibration import Calibration
from forecastscale.policy.event_book import MAX_BOOK_ENTRIES, BookedEvent, EventBook, Tombstone
from forecastscale.policy.guardrail import GuardState
from forecastscale.policy.leadtimes import KINDS, MAX_LEAD_S, LeadBook
from forecastscale.service.plan_guardrail import guardrail_entry, guardrail_state
from forecastscale.service.target import TargetRunner

PLAN_VERSION = 2
MAX_CLOCK_SKEW_S = 30.0  # replicas' clocks may differ this much (NTP keeps them far closer)
MAX_PAIRS = 100_000  # per list: far more than any window of ticks keeps
MAX_REPLICAS = 1_000_000
MAX_LEAD_NAMES = 10_000  # targets or pools with saved lead times: far more than any config has


@dataclass(frozen=True)
class Decoded:
    """A plan as read back: per target its history, the announced events, who wrote it, and every problem
    found (one line each; the parts they concern were left out)."""

    targets: dict[str, BehaviorHistory] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)  # the replicas last decided per target, where saved
    calibration: dict[str, Calibration] = field(default_factory=dict)  # SLO targets' margins, where saved
    book: EventBook = field(default_factory=EventBook)
    term: int | None = None
    problems: list[str] = field(default_factory=list)
    guardrail: dict[str, GuardState] = field(default_factory=dict)  # guarded targets' scores and state, where saved
    leads: LeadBook | None = None  # the lead times measured, where saved (the known targets' and every pool's)


def plan_entry(runner: TargetRunner) -> dict[str, Any]:
    """One target's entry: behaviour history as ``[[t, n], …]`` and the last decided replicas."""
    return history_entry(runner.history.behavior, runner.last.replicas if runner.last is not None else None,
                         runner.history.calibration, runner.history.guardrail)


def history_entry(history: BehaviorHistory, last_replicas: int | None,
                  calibration: Calibration | None = None, guardrail: GuardState | None = None) -> dict[str, Any]:
    """A target's entry: behaviour history as ``[[t, n], …]``, the last decided replicas and, with an SLO, the
    calibrated margin and measured miss share, with a guardrail its state (also for a restored target not
    re-decided yet)."""
    entry: dict[str, Any] = {"recommendations": [list(p) for p in history.recommendations],
                             "events": [list(p) for p in history.events], "last_replicas": last_replicas}
    if calibration is not None:
        entry["slo"] = {"margin": calibration.margin, "measured": calibration.measured}
    if guardrail is not None:
        entry["guardrail"] = guardrail_entry(guardrail)
    return entry


def _calibration(name: str, raw: Any) -> Calibration:
    """A saved margin (band widths, within ±20) and measured miss share (0–1 or null); ValueError naming the field."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"targets.{name}.slo: must be an object, got {shown(raw)}")
    measured = raw.get("measured")
    return Calibration(finite(f"targets.{name}.slo.margin", raw.get("margin"), lo=-20, hi=20),
                       None if measured is None else finite(f"targets.{name}.slo.measured", measured, lo=0, hi=1))


def encode(targets: Mapping[str, Mapping[str, Any]], book: EventBook, saved_at: float, holder: str | None,
           term: int | None, leads: LeadBook | None = None) -> dict[str, Any]:
    """The plan as stored."""
    plan = {"version": PLAN_VERSION, "saved_at": saved_at, "holder": holder, "term": term,
            "targets": dict(targets), "events": book_entry(book)}
    if leads is not None:
        plan["leads"] = leads_entry(leads)
    return plan


def leads_entry(book: LeadBook) -> dict[str, dict[str, list[float]]]:
    """The lead times measured as the plan stores them (the open waits are not: a new leader starts its own)."""
    out: dict[str, dict[str, list[float]]] = {kind: {} for kind in KINDS}
    for (kind, name), samples in book.samples.items():
        if samples:
            out[kind][name] = list(samples)
    return out


def _leads(raw: Any, problems: list[str]) -> LeadBook | None:
    """The saved lead times, each name's list checked on its own (a bad one is left out and reported)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        problems.append(f"leads: must be an object, got {shown(raw)}")
        return None
    book = LeadBook()
    for kind in KINDS:
        by_name = raw.get(kind, {})
        if not isinstance(by_name, Mapping):
            problems.append(f"leads.{kind}: must be an object, got {shown(by_name)}")
            continue
        for name, samples in list(by_name.items())[:MAX_LEAD_NAMES]:
            try:
                book = book.with_samples(kind, name, _samples(f"leads.{kind}.{name}", samples))
            except ValueError as exc:
                problems.append(str(exc))
    return book


def _samples(where: str, raw: Any) -> tuple[float, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_LEAD_SAMPLES:
        raise ValueError(f"{where}: must be a list of at most {MAX_LEAD_SAMPLES} lead times, got {shown(raw)}")
    return tuple(finite(f"{where}[{i}]", v, lo=0, hi=MAX_LEAD_S) for i, v in enumerate(raw))


def book_entry(book: EventBook) -> dict[str, Any]:
    """The announced events as the plan stores them."""
    return {"format": 2, "events": [e.to_dict() for e in book.events], "deleted": [t.to_dict() for t in book.deleted]}


def _pairs(where: str, raw: Any, now_s: float, lo: int) -> tuple[tuple[float, int], ...]:
    """``[[t, n], …]`` with every ``t`` a sane time not after ``now_s`` + skew and ``n`` whole; ValueError."""
    if not isinstance(raw, list) or len(raw) > MAX_PAIRS:
        raise ValueError(f"{where}: must be a list of at most {MAX_PAIRS} [time, replicas] pairs, got {shown(raw)}")
    out = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValueError(f"{where}[{i}]: must be [time, replicas], got {shown(pair)}")
        t = epoch(f"{where}[{i}][0]", pair[0], now_s=now_s, max_ahead_s=MAX_CLOCK_SKEW_S)
        out.append((t, whole(f"{where}[{i}][1]", pair[1], lo=lo, hi=MAX_REPLICAS)))
    return tuple(sorted(out))


def _history(name: str, entry: Any, now_s: float) -> BehaviorHistory:
    if not isinstance(entry, Mapping):
        raise ValueError(f"targets.{name}: must be an object, got {shown(entry)}")
    return BehaviorHistory(_pairs(f"targets.{name}.recommendations", entry.get("recommendations", []), now_s, 0),
                           _pairs(f"targets.{name}.events", entry.get("events", []), now_s, -MAX_REPLICAS))


def decode(plan: Mapping[str, Any] | None, now_s: float, known: Iterable[str]) -> Decoded:
    """Read ``plan`` at ``now_s`` (UNIX seconds) for the targets ``known``; never raises for its content."""
    if plan is None:
        return Decoded()
    out = Decoded(term=plan.get("term") if isinstance(plan.get("term"), int) else None)
    raw = plan.get("targets", {})
    if not isinstance(raw, Mapping):
        out.problems.append(f"targets: must be an object, got {shown(raw)}")
        raw = {}
    for name in known:
        if name in raw:
            try:
                out.targets[name] = _history(name, raw[name], now_s)
                if (last := raw[name].get("last_replicas")) is not None:
                    out.last[name] = whole(f"targets.{name}.last_replicas", last, lo=0, hi=MAX_REPLICAS)
                if "slo" in raw[name]:
                    out.calibration[name] = _calibration(name, raw[name]["slo"])
                if "guardrail" in raw[name]:
                    out.guardrail[name] = guardrail_state(f"targets.{name}.guardrail", raw[name]["guardrail"],
                                                          now_s, MAX_CLOCK_SKEW_S)
            except ValueError as exc:
                out.targets.pop(name, None)
                out.last.pop(name, None)
                out.calibration.pop(name, None)
                out.problems.append(str(exc))
    return Decoded(out.targets, out.last, out.calibration, _book(plan.get("events"), out.problems), out.term,
                   out.problems, out.guardrail, _leads(plan.get("leads"), out.problems))


def _book(raw: Any, problems: list[str]) -> EventBook:
    """The announced events, each checked on its own: a bad one is left out and reported."""
    if raw is None:
        return EventBook()
    if not isinstance(raw, Mapping) or not isinstance(raw.get("events"), list) or not isinstance(
            raw.get("deleted", []), list):
        problems.append(f'events: need {{"format": 2, "events": [...], "deleted": [...]}}, got {shown(raw)}')
        return EventBook()
    events: dict[str, BookedEvent] = {}
    deleted: list[Tombstone] = []
    for kind, parse, items in (("events", BookedEvent.from_dict, raw["events"]),
                               ("deleted", Tombstone.from_dict, raw.get("deleted", []))):
        for i, item in enumerate(items[:MAX_BOOK_ENTRIES]):
            try:
                parsed = parse(item)
            except ValueError as exc:
                problems.append(f"events.{kind}[{i}]: {exc}")
                continue
            if isinstance(parsed, BookedEvent):
                events.setdefault(parsed.id, parsed)
            else:
                deleted.append(parsed)
    return EventBook(tuple(events.values()), tuple(deleted))


def merged(own: BehaviorHistory, saved: BehaviorHistory, takeover: tuple[float, int] | None = None
           ) -> BehaviorHistory:
    """Recommendations: the union of ``own``, the saved ones and ``takeover``. Scale events: the saved ones only.

    A standby records the changes it *would* have made; only the leader's were made, and
    counting both would halve the rate limits right after a failover. ``takeover`` = (now, the
    replicas the former leader last decided) counts as recommended at the takeover: the newest
    recommendations may have died with the former leader before it saved them (and with a
    standby killed before its first save), so after a failover nothing scales below what was
    decided last for one stabilisation window.
    """
    extra = () if takeover is None else (takeover,)
    return BehaviorHistory(tuple(sorted({*own.recommendations, *saved.recommendations, *extra})), saved.events)
