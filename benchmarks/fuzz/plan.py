"""Surface ``plan``: a plan ConfigMap value read back by a new leader, then its first decision.

Seeds: plans as the service writes them (``plan_codec.encode``) — two targets' recommendations and scale
events over the last ten minutes, announced events and a tombstone. A case is the ConfigMap text: the tree
with values replaced by hostile ones (times in the future, NaN/Infinity/401-digit text, wrongly typed pairs,
other shapes) or blind text edits. It goes through what a new leader runs: :func:`parse_plan_text` (the
store's read), :func:`decode`, the merge into a standby's history with the takeover recommendation, and one
reactive decision with that history.

``clean``: the text was refused as a whole, or parts were left out with a reason (``problems``). ``ok``:
everything restored holds the edge rules (times sane and not ahead of now beyond the skew, whole bounded
replicas, events within their bounds) and the decision is within the target's bounds. Anything else escaping
is an uncaught exception: the tick would have died of it.
"""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np

from benchmarks.fuzz import Surface, Verdict, verdict
from benchmarks.fuzz.hostile import mutate_text, mutate_tree
from benchmarks.fuzz.invariants import decision_problems
from forecastscale.config import parse_config
from forecastscale.config.events import MAX_FLOOR_REPLICAS, MAX_MULTIPLIER, EventRequest
from forecastscale.edge import EARLIEST_S
from forecastscale.policy.base import PolicyHistory
from forecastscale.policy.behavior import BehaviorHistory
from forecastscale.policy.event_book import EventBook, book_event
from forecastscale.policy.leadtimes import MAX_LEAD_S, LeadBook
from forecastscale.policy.reactive import ReactivePolicy
from forecastscale.service.plan import parse_plan_text
from forecastscale.service.plan_codec import MAX_CLOCK_SKEW_S, MAX_REPLICAS, Decoded, decode, encode, merged
from forecastscale.types import Observation

NOW = 1_780_000_000.0  # 2026-05-28: the new leader's clock
CONFIG = parse_config({
    "targets": [{"name": n, "workload": {"capacity_per_replica": 10}, "scaling": {"max_replicas": 50}}
                for n in ("chat", "batch")],
    "node_pools": [{"name": "gpu", "gpus_per_node": 8, "max_nodes": 20}],
})
NAMES = [t.name for t in CONFIG.targets]
RAW = ["NaN", "Infinity", "1e999", "9" * 401, "[" * 3000 + "]" * 3000, "null", "true", '"x"', "[[]]", '[["x", 1]]',
       f"[[{NOW + 600}, 3]]", "[[1e18, 3]]", f"[[{NOW}, 2.5]]", f"[[{NOW}, -1]]"]


def seeds() -> list[dict[str, Any]]:
    """Plans as a leader saves them, with and without announced events."""
    history = {"recommendations": [[NOW - 60 * k, 10 + k] for k in range(10)], "events": [[NOW - 120, 4]],
               "last_replicas": 12}
    book = EventBook()
    for i, floor in enumerate((5, None)):
        request = EventRequest(target="chat", duration_s=3600, min_replicas=floor,
                               multiplier=None if floor else 1.5, reason=f"launch {i}")
        book = book.add(book_event(request, NOW - 30))
    book = book.remove(book.events[0].id, NOW - 10)
    leads = LeadBook().with_samples("pod", "chat", (300.0, 320.0)).with_samples("node", "gpu", (600.0,))
    return [encode({"chat": history, "batch": {**history, "last_replicas": None}}, book, NOW - 30, "pod-a", 4, leads),
            encode({"chat": history}, EventBook(), NOW - 30, "pod-a", 1)]


def mutate(rng: random.Random, seed: dict[str, Any]) -> str:
    """One ConfigMap value: a mutated tree, a raw value spliced in, or blind text edits."""
    pick = rng.random()
    if pick < 0.5:
        return json.dumps(mutate_tree(rng, seed, rng.randint(1, 3)), allow_nan=True, default=str)
    if pick < 0.8:
        key = rng.choice(["recommendations", "events", "last_replicas", "term", "targets", "deleted"])
        return json.dumps(seed).replace(f'"{key}": ', f'"{key}": {rng.choice(RAW)}, "_was": ', 1)
    return mutate_text(rng, json.dumps(seed), rng.randint(1, 4))


def run(text: str) -> Verdict:
    """What a new leader does with the text; see the module docstring for the verdicts."""
    plan, corrupt = parse_plan_text(text)
    if corrupt is not None:
        return Verdict("clean", corrupt[:200])
    decoded = decode(plan, NOW, NAMES)
    problems = _restored_problems(decoded) + _decision_problems(decoded)
    if problems:
        return verdict(problems)
    return Verdict("clean", decoded.problems[0][:200]) if decoded.problems else Verdict("ok")


def _restored_problems(d: Decoded) -> list[str]:
    out = []
    for name, h in d.targets.items():
        for t, n in (*h.recommendations, *h.events):
            if not (isinstance(t, float) and EARLIEST_S <= t <= NOW + MAX_CLOCK_SKEW_S):
                out.append(f"{name}: time {t!r} restored")
            if not (isinstance(n, int) and not isinstance(n, bool) and abs(n) <= MAX_REPLICAS):
                out.append(f"{name}: replicas {n!r} restored")
    for e in d.book:
        if not (e.end_s > e.start_s and (e.min_replicas or 0) <= MAX_FLOOR_REPLICAS
                and (e.multiplier or 1) <= MAX_MULTIPLIER):
            out.append(f"event {e.id}: {e.to_dict()} restored")
        e.to_view()  # the listing renders it (raises on a date out of range)
    for (kind, name), leads in (d.leads.samples.items() if d.leads is not None else ()):
        if not all(isinstance(s, float) and 0 <= s <= MAX_LEAD_S for s in leads):
            out.append(f"leads.{kind}.{name}: {leads!r} restored")
    return out


def _decision_problems(d: Decoded) -> list[str]:
    """One reactive decision per target with the restored history merged into a standby's own."""
    out = []
    for target in CONFIG.targets:
        saved = d.targets.get(target.name, BehaviorHistory())
        last = d.last.get(target.name)
        history = PolicyHistory(merged(BehaviorHistory(((NOW - 30, 9),)), saved, None if last is None else (NOW, last)))
        obs = Observation(t=NOW, step_s=60.0, demand_history=np.full(30, 80.0), current_replicas=12,
                          ready_replicas=12, wall_s=NOW, events=tuple(e.window(180.0) for e in d.book
                                                                      if e.target == target.name))
        decision, _ = ReactivePolicy(target).decide(obs, history)
        bounds = (target.scaling.min_replicas, target.scaling.max_replicas)
        out += decision_problems(decision, target.name, bounds)
    return out


SURFACE = Surface("plan", seeds, mutate, run)
