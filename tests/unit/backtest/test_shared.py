"""Two targets on one pool whose max_nodes binds: lockstep replay, arbitration, report."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from forecastscale.backtest import shared_report
from forecastscale.backtest.runner import build_scenario
from forecastscale.backtest.shared import SharedRun, grant_nodes, grant_replicas, run_shared
from forecastscale.backtest.suite import plan_jobs
from forecastscale.backtest.window import cut_trace
from forecastscale.config import Config, load_config
from forecastscale.sources.csvtrace import load_trace
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
    assert run.nodes_total.max() <= run.pool.max_nodes
    for job in pool_result.jobs:
        t = job.target
        floor = np.minimum(run.wanted_gpus[t.name], t.min_replicas * t.gpus_per_pod)
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
    entry = pool["policies"]["predictive"]
    news = entry["targets"]["news-summariser"]
    assert news["capped_steps"] > 0 and news["top_caps"] and news["capped_gpu_pct"] > 0
    assert any(r.endswith("/capped:share") for r in news["decision_reasons"])
    assert entry["top_messages"] and "capped by" in entry["top_messages"][0]["message"]
    assert entry["max_nodes_used"] <= 5
    lines = shared_report.message_lines(pool_result)
    assert any("news-summariser capped by" in line for line in lines)


def _targets(make_config: Callable[..., Config], shares: tuple[float, float]) -> Config:
    base = make_config().targets[0]
    targets = [base.model_copy(update={"name": n, "share": s, "min_replicas": 2})
               for n, s in zip(("a", "b"), shares, strict=True)]
    return make_config().model_copy(update={"targets": targets})


def test_grants_pass_through_when_the_pool_fits(make_config: Callable[..., Config]) -> None:
    cfg = _targets(make_config, (1, 1))
    pool = cfg.pool_for(cfg.targets[0])  # 32 nodes × 4 GPUs
    assert grant_replicas([10, 20], cfg.targets, pool) == ([10, 20], None, None)


def test_a_full_pool_is_shared_by_share_and_fits_whole_nodes(make_config: Callable[..., Config]) -> None:
    cfg = _targets(make_config, (3, 1))
    pool = cfg.pool_for(cfg.targets[0]).model_copy(update={"max_nodes": 5})  # 20 GPUs
    replicas, arb, message = grant_replicas([30, 30], cfg.targets, pool)
    assert arb is not None and message is not None
    assert sum(replicas) <= 20 and all(r >= 2 for r in replicas)
    assert replicas[0] > replicas[1]  # share 3 against 1
    assert sum(-(-r // 4) for r in replicas) <= 5  # each target's own nodes fit the pool
    assert "capped by" in message


def test_node_requests_never_exceed_the_pool(make_config: Callable[..., Config]) -> None:
    cfg = _targets(make_config, (1, 1))
    pool = cfg.pool_for(cfg.targets[0]).model_copy(update={"max_nodes": 5})
    # Both policies look ahead to 4 nodes; their granted pods need 2 and 1; b holds 2 nodes now.
    nodes = grant_nodes([4, 4], [8, 4], [1, 2], cfg.targets, pool)
    assert sum(nodes) <= 5 and nodes[0] >= 2 and nodes[1] >= 1
