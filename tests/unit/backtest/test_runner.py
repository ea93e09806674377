"""Replays: demand resampling, scores, warm-up, oracle bound, and no look-ahead."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from forecastscale.backtest.runner import build_scenario, make_policy, resample, run_policy
from forecastscale.backtest.scores import score
from forecastscale.backtest.shared import run_shared
from forecastscale.config import Config, load_config
from forecastscale.sources.csvtrace import Trace, TraceReport, load_trace
from forecastscale.types import FloatArray
from tests.conftest import DATA

_REPORT = TraceReport(0, 0, 0, 0, 0, 0, 0)


def _trace(values: FloatArray, step_s: float) -> Trace:
    return Trace("synthetic", datetime(2024, 1, 1, tzinfo=UTC), step_s, np.asarray(values, float), _REPORT)


@pytest.mark.parametrize(("step_s", "expected"), [
    (60.0, [1, 1, 1, 1, 1, 3, 3, 3, 3, 3]),   # finer decisions: each value holds for its step
    (600.0, [2.0]),                             # coarser decisions: time-weighted mean
    (120.0, [1, 1, 2, 3, 3]),                   # straddling a boundary: 1 min of 1, 1 min of 3
], ids=["hold", "average", "straddle"])
def test_resample(step_s: float, expected: list[float]) -> None:
    np.testing.assert_allclose(resample(_trace(np.array([1.0, 3.0]), 300), step_s, 1.0), expected)


def test_scores_by_hand() -> None:
    demand = np.array([9.0, 1.0, 4.0, 6.0])
    capacity = np.array([0.0, 2.0, 4.0, 3.0])  # step 0 is warm-up
    gpus = np.array([8.0, 8.0, 16.0, 16.0])
    replicas = np.array([1.0, 2.0, 2.0, 3.0])
    nodes = np.array([1.0, 1.0, 2.0, 2.0])
    s = score(demand, capacity, gpus, replicas, nodes, 900.0, 1, 2.0, max_wait_s=0.0)
    assert s.gpu_hours == pytest.approx((8 + 16 + 16) * 0.25)
    assert s.cost == pytest.approx(20.0)
    assert s.underprovisioned_pct == pytest.approx(100 / 3)  # only 6 > 3
    # With no waiting allowed, demand above capacity is dropped at once: 3 of 11.
    assert s.unserved_pct == pytest.approx(100 * 3 / 11)
    assert s.queued_pct == pytest.approx(100 * 3 / 11)
    assert s.p99_wait_s == 0.0
    assert s.mean_utilisation == pytest.approx((1 + 4 + 3) / (2 + 4 + 3))
    assert (s.scale_events, s.node_events) == (2, 1)  # 1→2, 2→3; nodes 1→2


def test_scores_let_demand_wait_in_the_queue() -> None:
    # One 60-s step at 10/s over a capacity of 5/s, then spare capacity: the excess 300 units
    # wait and are served next step, none dropped with max_wait 60 s. FIFO: once a backlog
    # exists every later arrival waits behind it, so only the first 5-s sub-step's 25 units
    # served at once go unqueued: 575 of 600 queued.
    demand = np.array([10.0, 0.0, 0.0])
    capacity = np.array([5.0, 10.0, 10.0])
    ones = np.ones(3)
    s = score(demand, capacity, ones, ones, ones, 60.0, 0, 1.0, max_wait_s=60.0)
    assert s.underprovisioned_pct == pytest.approx(100 / 3)
    assert s.unserved_pct == 0.0
    assert s.queued_pct == pytest.approx(100 * 575 / 600)
    assert 0 < s.p99_wait_s <= 60.0


@pytest.mark.parametrize(("days", "warmup_h"), [(14, 48), (5, 24)], ids=["2-days", "20-percent"])
def test_default_warmup(make_config: Callable[..., Config], days: int, warmup_h: float) -> None:
    cfg = make_config()
    sc = build_scenario(cfg, cfg.targets[0], _trace(np.ones(days * 24), 3600))
    assert sc.warmup_steps * sc.step_s == warmup_h * 3600


def test_warmup_longer_than_trace_is_a_config_error(make_config: Callable[..., Config]) -> None:
    cfg = make_config(backtest={"warmup_s": 7200})
    with pytest.raises(Exception, match=r"backtest.warmup_s: 7200 s leaves nothing to score"):
        build_scenario(cfg, cfg.targets[0], _trace(np.ones(2), 3600))


@pytest.mark.parametrize("config", ["elb_request_count.yaml", "twitter_goog.yaml"])
def test_oracle_is_never_under_provisioned_on_real_traces(config: str) -> None:
    cfg = load_config(DATA / config)
    target = cfg.targets[0]
    assert target.backtest.trace is not None
    sc = build_scenario(cfg, target, load_trace(target.backtest.trace))
    result = run_policy(sc, make_policy("oracle", sc))
    assert result.scores.underprovisioned_pct == 0.0
    assert result.scores.unserved_pct == 0.0
    assert result.scores.gpu_hours > 0


def test_oracle_meets_a_sudden_step_exactly_in_time(make_config: Callable[..., Config]) -> None:
    cfg = make_config(target={"workload": {"capacity_per_replica": 1.0}}, backtest={"warmup_s": 600})
    demand = np.concatenate([np.full(60, 2.0), np.full(60, 30.0)])  # 2/s → 30/s at minute 60
    sc = build_scenario(cfg, cfg.targets[0], _trace(demand, 60))
    result = run_policy(sc, make_policy("oracle", sc))
    assert result.scores.underprovisioned_pct == 0.0
    # Pods for the step are requested 3 min (pod start-up) ahead: before that, 2 ready replicas.
    assert result.capacity[55] == 2.0 and result.capacity[60] == 30.0
    assert result.replicas[56] == 2.0 and result.replicas[57] == 30.0


def _first_days(days: float) -> Trace:
    trace = load_trace(DATA / "elb_request_count_8c0756.csv")
    n = int(days * 86400 / trace.step_s)
    return Trace(trace.name, trace.start, trace.step_s, trace.values[:n].copy(), trace.report)


@pytest.mark.parametrize("model", ["seasonal_naive", "holt_winters"])
def test_predictive_makes_no_use_of_the_future(make_config: Callable[..., Config], model: str) -> None:
    cfg = make_config(target={"workload": {"demand_scale": 0.1},
                              "forecast": {"model": model, "refit_interval_s": 1800}},
                      backtest={"warmup_s": 2 * 86400})
    base = _first_days(2.5)
    altered_values = base.values.copy()
    cut = int(2.25 * 86400 / base.step_s)  # alter everything after 2 d 6 h
    altered_values[cut:] *= 5
    altered = Trace(base.name, base.start, base.step_s, altered_values, base.report)
    runs = []
    for trace in (base, altered):
        sc = build_scenario(cfg, cfg.targets[0], trace)
        runs.append(run_policy(sc, make_policy("predictive", sc)))
    j = int(2.25 * 86400 / sc.step_s)  # first decision step whose demand differs
    # Decision j sees demand up to j - 1 only, so decisions 0..j match exactly.
    np.testing.assert_array_equal(runs[0].replicas[: j + 1], runs[1].replicas[: j + 1])
    np.testing.assert_array_equal(runs[0].nodes[: j + 1], runs[1].nodes[: j + 1])
    assert not np.array_equal(runs[0].replicas, runs[1].replicas)  # the alteration is seen later
    assert runs[0].reasons.get("forecast", 0) > 0  # the forecast took part


def test_predictive_without_enough_history_falls_back_to_reactive(make_config: Callable[..., Config]) -> None:
    cfg = make_config(target={"workload": {"demand_scale": 0.1}}, backtest={"warmup_s": 3600})
    sc = build_scenario(cfg, cfg.targets[0], _first_days(0.5))  # under 2 seasons of history
    policy = make_policy("predictive", sc)
    result = run_policy(sc, policy)
    assert "forecast" not in result.reasons
    assert result.reasons.get("reactive", 0) > 0


def test_reactive_and_predictive_are_deterministic(tmp_path: Path) -> None:
    cfg = load_config(DATA / "elb_request_count.yaml")
    sc = build_scenario(cfg, cfg.targets[0], _first_days(3))
    for name in ("reactive", "predictive"):
        a = run_policy(sc, make_policy(name, sc))
        b = run_policy(sc, make_policy(name, sc))
        assert a.scores == b.scores


def _two_pools(make_config: Callable[..., Config], **backtest: object) -> Config:
    """The base target (1 GPU per pod) whose own pool ``gpu`` holds 2 nodes of 4 GPUs, and a pool ``spare``."""
    cfg = make_config(target={"workload": {"capacity_per_replica": 1.0}, "scaling": {"target_utilisation": 1.0},
                              "scheduling": {"node_pool": "gpu"}},
                      pool={"max_nodes": 2}, backtest={"warmup_s": 600, **backtest})
    spare = cfg.node_pools[0].model_copy(update={"name": "spare", "max_nodes": 4, "gpu_hour_cost": 3.0})
    return cfg.model_copy(update={"node_pools": [*cfg.node_pools, spare]})


@pytest.mark.parametrize("policy", ["reactive", "oracle"])
def test_a_single_target_run_is_a_fleet_of_that_target(make_config: Callable[..., Config], policy: str) -> None:
    cfg = make_config(target={"workload": {"demand_scale": 0.1}}, backtest={"warmup_s": 3600})
    sc = build_scenario(cfg, cfg.targets[0], _first_days(0.5))
    alone = run_policy(sc, make_policy(policy, sc))
    fleet = run_shared([sc], policy).runs[sc.target.name]
    assert alone.scores == fleet.scores and alone.reasons == fleet.reasons
    np.testing.assert_array_equal(alone.capacity, fleet.capacity)


def test_a_single_target_run_replays_spill_over_and_attributes_both_pools(make_config: Callable[..., Config]) -> None:
    cfg = _two_pools(make_config)
    sc = build_scenario(cfg, cfg.targets[0], _trace(np.full(120, 12.0), 60))  # 12 pods: 8 fit at home
    result = run_policy(sc, make_policy("oracle", sc))
    assert any("spilled" in r for r in result.reasons) and result.scores.underprovisioned_pct == 0.0
    assert result.gpus[-1] == 12.0  # 2 nodes at home (max_nodes), 1 on spare for the other 4 pods
    # Cost uses each pool's price: 8 GPUs at 0 (the base pool's) and 4 at 3.0 per hour.
    hours = (len(sc.demand) - sc.warmup_steps) / 60
    assert result.scores.cost == pytest.approx(4 * 3.0 * hours, rel=0.05)


def test_an_announced_event_floors_replicas_in_its_window(make_config: Callable[..., Config]) -> None:
    event = {"target": "llm", "start": 3600, "duration_s": 1200, "min_replicas": 6, "reason": "launch"}
    cfg = make_config(target={"workload": {"capacity_per_replica": 1.0}}, pool={"min_nodes": 2},  # no node lead
                      backtest={"warmup_s": 600, "events": [event]})
    sc = build_scenario(cfg, cfg.targets[0], _trace(np.full(120, 1.0), 60))
    result = run_policy(sc, make_policy("reactive", sc))
    lead = 3  # pre-warmed by pod_startup_s (180 s): asked for 3 steps early, Ready at the start
    assert np.all(result.replicas[60 - lead: 80] >= 6) and np.all(result.capacity[60:80] >= 6)
    assert result.replicas[59 - lead] == 2 and result.reasons.get("event", 0) >= 20  # bar pods still starting
    assert result.replicas[80 + 5] == 2  # after the window and the 300-s scale-down stabilisation


def test_queue_and_gpu_columns_feed_the_rules_one_step_old(make_config: Callable[..., Config]) -> None:
    rules = [{"type": "queue", "target": {"type": "AverageValue", "average_value": 5}}]
    cfg = make_config(target={"scaling": {"metrics": rules, "behavior": {"scale_down": {
        "stabilization_window_seconds": 0, "policies": [{"type": "Percent", "value": 100, "period_seconds": 15}]}}}},
        backtest={"warmup_s": 600})
    queue = np.concatenate([np.full(60, 10.0), np.full(60, 40.0)])
    trace = Trace("q", datetime(2024, 1, 1, tzinfo=UTC), 60, np.ones(120), _REPORT, {"queue": queue})
    sc = build_scenario(cfg, cfg.targets[0], trace)
    result = run_policy(sc, make_policy("reactive", sc))
    assert result.replicas[59] == 2 and result.replicas[60] == 2  # the step-60 queue is seen at step 61
    assert (result.replicas[61], result.replicas[62]) == (6, 8)  # +4 pods at most per step, then 40 / 5
    assert result.reasons.get("rule", 0) > 0


def test_kv_cache_column_feeds_its_rule_one_step_old(make_config: Callable[..., Config]) -> None:
    rules = [{"type": "kv_cache", "target": {"type": "Utilization", "average_utilization": 50}}]
    cfg = make_config(target={"scaling": {"metrics": rules}}, backtest={"warmup_s": 600})
    kv = np.concatenate([np.full(60, 50.0), np.full(60, 100.0)])  # % of the KV cache in use, averaged over pods
    trace = Trace("kv", datetime(2024, 1, 1, tzinfo=UTC), 60, np.ones(120), _REPORT, {"kv_cache": kv})
    sc = build_scenario(cfg, cfg.targets[0], trace)
    result = run_policy(sc, make_policy("reactive", sc))
    assert result.replicas[60] == 2  # 50 % against 50 %: as is; the step-60 reading is seen at step 61
    assert result.replicas[61] == 4 and result.reasons.get("rule", 0) > 0  # 100 % of 2 pods against 50 %: 4
