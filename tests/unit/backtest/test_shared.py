"""Two targets on one pool whose max_nodes binds: the one fleet loop, arbitration by share, GPU attribution, report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pytest

from forecastscale.backtest import shared_report
from forecastscale.backtest.runner import Scenario, build_scenario
from forecastscale.backtest.shared import SharedRun, run_shared
from forecastscale.backtest.suite import plan_jobs
from forecastscale.backtest.window import cut_trace
from forecastscale.config import Config, load_config
from forecastscale.sources.csvtrace import Trace, TraceReport, load_trace
from tests.conftest import DATA

SCENARIO = DATA / "scenarios" / "shared_pool.yaml"
DAYS = 4  # enough for the predictive policy to fit (two daily seasons) and for peaks to collide


@pytest.fixture(scope="module")
def pool_result() -> shared_report.PoolResult:
    config = load_config(SCENARIO)
    jobs = plan_jobs([(SCENARIO, config)], [], None)
    scenarios = []
    for job in jobs:
        trace = load_trace(job.trace_path)
        scenarios.append(build_scenario(config, job.target, cut_trace(trace, 0, DAYS * 86400)))
    runs = {p: run_shared(scenarios, p) for p in ("reactive", "predictive")}
    return shared_report.PoolResult(SCENARIO, jobs, runs)


def _cut_fraction(run: SharedRun, name: str) -> float:
    w = run.warmup_steps
    wanted = run.wanted_gpus[name][w:].sum()
    return float((wanted - run.granted_gpus[name][w:].sum()) / wanted)


@pytest.mark.parametrize("policy", ["reactive", "predictive"])
def test_capacity_and_minima_hold_at_every_step(pool_result: shared_report.PoolResult, policy: str) -> None:
    run = pool_result.runs[policy]
    granted = sum(run.granted_gpus.values())
    assert granted.max() <= run.capacity_gpus
    assert run.nodes_total.max() <= sum(p.max_nodes for p in run.pools)
    for job in pool_result.jobs:
        t = job.target
        floor = np.minimum(run.wanted_gpus[t.name], t.scaling.min_replicas * t.workload.gpus_per_pod)
        assert np.all(run.granted_gpus[t.name] >= floor)
        assert np.all(run.granted_gpus[t.name] <= run.wanted_gpus[t.name])


@pytest.mark.parametrize("policy", ["reactive", "predictive"])
def test_the_pool_binds_and_the_higher_share_is_cut_less(pool_result: shared_report.PoolResult, policy: str) -> None:
    run = pool_result.runs[policy]
    assert run.capped_steps["news-summariser"] > 0  # the scenario is sized so the pool binds
    # chat-llm has share 3, news-summariser 1: in proportion to what each wanted, chat loses less.
    assert _cut_fraction(run, "chat-llm") < _cut_fraction(run, "news-summariser")


def test_report_lists_caps_and_messages(pool_result: shared_report.PoolResult) -> None:
    out = shared_report.to_json([pool_result])
    [pool] = out["shared_pools"]
    assert pool["capacity_gpus"] == 40 and pool["targets"] == ["chat-llm", "news-summariser"]
    assert pool["pools"] == [{"name": "shared-8x", "max_nodes": 5, "gpus_per_node": 8}]
    entry = pool["policies"]["predictive"]
    news = entry["targets"]["news-summariser"]
    assert news["capped_steps"] > 0 and news["top_caps"] and news["capped_gpu_pct"] > 0
    assert any(r.endswith("/capped:share") for r in news["decision_reasons"])
    assert entry["top_messages"] and "capped by" in entry["top_messages"][0]["message"]
    assert entry["max_nodes_used"] <= 5
    lines = shared_report.message_lines(pool_result)
    assert any("news-summariser capped by" in line for line in lines)


def _fleet(make_config: Callable[..., Config], shares: tuple[float, float]) -> list[Scenario]:
    """Targets a and b, each wanting 15 one-GPU pods all along, on one pool of 5 nodes × 4 GPUs."""
    cfg = make_config(target={"workload": {"capacity_per_replica": 1.0},
                              "scaling": {"target_utilisation": 1.0, "min_replicas": 2}},
                      pool={"max_nodes": 5}, backtest={"warmup_s": 1200})
    base = cfg.targets[0]
    cfg = cfg.model_copy(update={"targets": [
        base.model_copy(update={"name": n, "scheduling": base.scheduling.model_copy(update={"share": s})})
        for n, s in zip(("a", "b"), shares, strict=True)]})
    trace = Trace("flat", datetime(2024, 1, 1, tzinfo=UTC), 60, np.full(60, 15.0), TraceReport(0, 0, 0, 0, 0, 0, 0))
    return [build_scenario(cfg, t, trace) for t in cfg.targets]


@pytest.mark.parametrize(("shares", "granted"), [
    ((3, 1), (14, 6)),    # minima (2 + 2), then 16 GPUs by share × unmet demand: 12 and 4
    ((1, 1), (10, 10)),
], ids=["share-3-to-1", "equal-shares"])
def test_a_full_pool_is_shared_by_share(make_config: Callable[..., Config], shares: tuple[float, float],
                                        granted: tuple[int, int]) -> None:
    run = run_shared(_fleet(make_config, shares), "reactive")
    assert (run.granted_gpus["a"][-1], run.granted_gpus["b"][-1]) == granted
    assert run.capped_steps["b"] > 0 and any("capped:share" in r for r in run.runs["b"].reasons)
    assert run.nodes_total.max() <= 5


def test_gpu_hours_add_up_to_the_pools_gpus(pool_result: shared_report.PoolResult) -> None:
    run = pool_result.runs["reactive"]
    attributed = np.sum([r.gpus for r in run.runs.values()], axis=0)
    # Both targets' pods share the pool's nodes: its GPUs are split by the GPUs their pods hold.
    assert np.all(attributed <= run.nodes_total * 8 + 1e-9) and attributed.sum() > 0
    total = sum(r.scores.gpu_hours for r in run.runs.values())
    assert total == pytest.approx(float(attributed[run.warmup_steps:].sum()) / 60)
