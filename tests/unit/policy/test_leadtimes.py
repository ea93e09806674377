"""The lead-time book: waits opened by writes, closed by readiness, rolling samples, the quantile planned over."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecastscale.config import Leads, LeadSettings, parse_config
from forecastscale.errors import LeadTimeError
from forecastscale.policy.fleet import FleetState, TargetInput, decide_fleet
from forecastscale.policy.leadtimes import MAX_LEAD_S, LeadBook, learned, pool_lead_s
from forecastscale.policy.placement import Placement
from forecastscale.policy.predictive import PredictivePolicy
from forecastscale.types import Observation, PoolState

PRIOR = Leads(pod_s=180.0, node_s=420.0)
ON = LeadSettings(learn=True, quantile=0.9, min_samples=3, window=5)


def _measured(leads: list[float], kind: Any = "pod") -> LeadBook:
    """A book with one scale-up per lead, each Ready ``lead`` seconds after its write."""
    book = LeadBook()
    for k, lead in enumerate(leads):
        t = 10_000.0 * k
        book = book.wrote(kind, "chat", t, 1, 2).observed(kind, "chat", t + lead, 2)
    return book


@pytest.mark.parametrize(("steps", "expected"), [
    ([("wrote", 0, 2, 4), ("ready", 60, 3), ("ready", 300, 4)], (300.0,)),
    ([("wrote", 0, 2, 4), ("ready", 120, 4)], (120.0,)),
    ([("wrote", 0, 2, 4), ("wrote", 60, 4, 3), ("ready", 300, 3)], ()),  # scaled down below the goal: dropped
    ([("wrote", 0, 2, 4), ("wrote", 60, 4, 6), ("ready", 200, 4), ("ready", 400, 6)], (200.0, 340.0)),
    ([("wrote", 0, 4, 2), ("ready", 60, 2)], ()),  # a scale-down measures nothing
    ([("wrote", 0, 2, 4), ("ready", MAX_LEAD_S + 1, 3), ("ready", MAX_LEAD_S + 60, 4)], ()),  # lost: dropped
    ([("wrote", 0, 2, 2), ("ready", 60, 2)], ()),
], ids=["lagging-ready", "at-once", "scaled-down", "overlapping", "down-only", "stuck", "unchanged"])
def test_a_pod_lead_runs_from_the_write_to_the_ready_count_reaching_it(steps: list[tuple[Any, ...]],
                                                                      expected: tuple[float, ...]) -> None:
    book = LeadBook()
    for op, t, *counts in steps:
        book = book.wrote("pod", "chat", t, *counts) if op == "wrote" else book.observed("pod", "chat", t, *counts)
    assert book.measured("pod", "chat") == expected


@pytest.mark.parametrize(("leads", "settings", "expected"), [
    ([300.0, 300.0], ON, PRIOR.pod_s),  # fewer than min_samples: the prior
    ([300.0] * 3, ON, 300.0),
    ([100.0, 200.0, 300.0, 400.0, 500.0], ON, 460.0),  # numpy's linear P90
    ([9000.0] * 5, ON, PRIOR.pod_s * ON.ceiling),  # capped at ceiling × prior
    ([50.0] * 10 + [400.0] * 5, ON, 400.0),  # the window keeps the last 5
    ([300.0] * 5, LeadSettings(), PRIOR.pod_s),  # learn off
], ids=["prior", "learned", "p90", "ceiling", "window", "off"])
def test_the_pod_lead_planned_is_the_measured_quantile_once_enough_exist(leads: list[float], settings: LeadSettings,
                                                                         expected: float) -> None:
    got = learned(settings, PRIOR, _measured(leads), "chat", "a100")
    assert got.pod_s == pytest.approx(expected)
    assert got.node_s == PRIOR.node_s  # no node measured: its prior


def test_node_leads_are_per_pool() -> None:
    got = learned(ON, PRIOR, _measured([900.0] * 3, kind="node"), "other", "chat")
    assert (got.pod_s, got.node_s) == (PRIOR.pod_s, 900.0)


@pytest.mark.parametrize("call", [
    lambda b: b.wrote("pod", "x", math.nan, 1, 2),
    lambda b: b.wrote("pod", "x", 0.0, -1, 2),
    lambda b: b.wrote("pod", "x", 0.0, 1, 2.5),
    lambda b: b.observed("pod", "x", math.inf, 2),
    lambda b: b.observed("pod", "x", 0.0, True),
    lambda b: b.quantile("pod", "x", 1.5),
    lambda b: b.with_samples("pod", "x", (-1.0,)),
    lambda b: b.with_samples("pod", "x", (math.nan,)),
], ids=["nan-time", "negative-count", "fraction", "inf-time", "bool", "quantile", "negative-lead", "nan-lead"])
def test_hostile_values_raise_a_typed_error(call: Any) -> None:
    with pytest.raises(LeadTimeError):
        call(LeadBook().wrote("pod", "x", 0.0, 1, 2))


_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 2_000_000), st.booleans(),
                    st.none(), st.text(max_size=3))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), _values, _values, _values), max_size=30))
def test_any_sequence_of_calls_gives_a_typed_error_or_sane_samples(calls: list[tuple[bool, Any, Any, Any]]) -> None:
    book = LeadBook()
    for write, t, a, b in calls:
        try:
            book = book.wrote("pod", "x", t, a, b) if write else book.observed("pod", "x", t, a)
        except LeadTimeError:
            continue
    samples = book.measured("pod", "x")
    assert all(isinstance(s, float) and 0 <= s <= MAX_LEAD_S for s in samples)
    q = book.quantile("pod", "x", 0.9)
    assert q is None or (min(samples) <= q <= max(samples))


def _fleet_config(learn: bool) -> Any:
    return parse_config({
        "targets": [{"name": "chat", "workload": {"capacity_per_replica": 1, "pod_startup_s": 180,
                                                  "lead": {"learn": learn, "min_samples": 3}},
                     "scaling": {"max_replicas": 100}, "forecast": {"model": "seasonal_naive", "season_s": 3600}}],
        "node_pools": [{"name": "a100", "gpus_per_node": 8, "node_startup_s": 420, "max_nodes": 10}]})


@pytest.mark.parametrize(("learn", "horizon"), [(True, 300.0), (False, 180.0)], ids=["learned", "constant"])
def test_the_fleet_moves_the_pod_horizon_to_what_it_measured(learn: bool, horizon: float) -> None:
    """Three scale-ups whose pods are Ready 300 s after the write: the decision looks 300 s ahead, not 180 s."""
    config = _fleet_config(learn)
    target, placement = config.targets[0], Placement(config)
    policy = PredictivePolicy(target, config.node_pools[0], 60.0, 60.0)
    state = FleetState()
    for k in range(3):
        state = FleetState(state.pools, state.leads.wrote("pod", "chat", 1000.0 * k, 2, 3))
        state = FleetState(state.pools, state.leads.observed("pod", "chat", 1000.0 * k + 300.0, 3))
    obs = Observation(t=4000.0, step_s=60.0, demand_history=np.full(2000, 2.0), current_replicas=3,
                      ready_replicas=3)
    fleet, after = decide_fleet(placement, {"chat": policy}, {"chat": TargetInput(obs)},
                                {"a100": PoolState(ready=1)}, state)
    assert min(fleet.targets["chat"].forecast) == horizon
    assert after.leads.measured("pod", "chat") == (300.0, 300.0, 300.0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, MAX_LEAD_S), min_size=1, max_size=60), st.floats(0, 1))
def test_the_quantile_is_numpys_linear_one(leads: list[float], q: float) -> None:
    book = LeadBook().with_samples("pod", "x", tuple(leads))
    assert book.quantile("pod", "x", q) == pytest.approx(float(np.quantile(leads, q)), rel=1e-9, abs=1e-6)


@pytest.mark.parametrize(("learn", "samples", "lead"), [
    (True, (900.0, 900.0, 900.0), 900.0),   # three node leads measured: the pool is judged against them
    (True, (900.0, 900.0), 420.0),          # fewer than min_samples: the prior
    (False, (900.0, 900.0, 900.0), 420.0),  # no target on the pool learns: the prior
], ids=["learned", "too-few", "not-learning"])
def test_a_pools_node_lead_is_the_learned_one_where_its_targets_learn(learn: bool, samples: tuple[float, ...],
                                                                    lead: float) -> None:
    """Stockouts are measured against this lead × ``stockout_factor``."""
    config = _fleet_config(learn)
    book = LeadBook().with_samples("node", "a100", samples)
    assert pool_lead_s(config, book, config.node_pools[0]) == lead
