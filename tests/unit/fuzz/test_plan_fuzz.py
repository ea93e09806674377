"""Property: whatever the plan ConfigMap holds, a new leader reads it, restores what is valid (times sane and
not ahead beyond the clock skew, whole bounded replicas, events within their bounds), reports the rest, and its
first decision stays within the target's bounds — never an exception, never a hang.

The oracle is the campaign's (:mod:`benchmarks.fuzz.plan`), so the suite and ``benchmarks/fuzz_campaign.py``
judge alike."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz.plan import NOW, RAW, run, seeds
from tests.unit.fuzz.strategies import edited, spliced

SEEDS = seeds()
SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]


def check(text: str) -> None:
    verdict = run(text)
    assert verdict.kind in ("clean", "ok"), verdict.detail


@settings(max_examples=300, suppress_health_check=SLOW)
@given(st.data())
def test_plans_with_hostile_values(data: st.DataObject) -> None:
    plan: dict[str, Any] = data.draw(edited(copy.deepcopy(data.draw(st.sampled_from(SEEDS))), max_edits=4))
    check(json.dumps(plan, default=str))


@settings(max_examples=200, suppress_health_check=SLOW)
@given(st.sampled_from(SEEDS), st.sampled_from(["recommendations", "events", "last_replicas", "term", "targets",
                                                "deleted", "leads", "pod", "chat"]),
       st.sampled_from(RAW) | st.floats().map(lambda t: f"[[{t}, 3]]") | st.integers().map(lambda n: f"[[{NOW}, {n}]]"))
def test_raw_values_no_encoder_would_write(seed: dict[str, Any], key: str, raw: str) -> None:
    check(json.dumps(seed).replace(f'"{key}": ', f'"{key}": {raw}, "_was": ', 1))


@settings(max_examples=150, suppress_health_check=SLOW)
@given(st.sampled_from(SEEDS), st.data())
def test_edited_text(seed: dict[str, Any], data: st.DataObject) -> None:
    check(data.draw(spliced(json.dumps(seed))))
