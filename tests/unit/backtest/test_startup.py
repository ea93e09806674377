"""Start-up times that vary: log-normal draws (seeded, drifting) in the simulator, and leads learned from them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from forecastscale.backtest.cluster import FleetSimulator
from forecastscale.backtest.loop import _start, fleet_scenario, step
from forecastscale.backtest.runner import build_scenario, make_policy
from forecastscale.backtest.startup import Startup
from forecastscale.config import Config, Spread, StartupDraws, parse_config
from forecastscale.errors import ConfigError
from forecastscale.policy.base import PolicyHistory
from forecastscale.policy.fleet import FleetState
from forecastscale.sources.csvtrace import load_trace
from tests.conftest import merged

POD, NODE = Spread(p50=150, p90=420), Spread(p50=420, p90=900)
CONFIG = {"targets": [{"name": "llm", "workload": {"capacity_per_replica": 1.0, "pod_startup_s": 180},
                       "scaling": {"max_replicas": 64, "target_utilisation": 1.0}}],
          "node_pools": [{"name": "a", "gpus_per_node": 4, "node_startup_s": 420, "max_nodes": 32}]}


def _config(**patch: Any) -> Config:
    return parse_config(merged(CONFIG, patch))


@pytest.mark.parametrize(("spread", "kind"), [(POD, "pod"), (NODE, "node")], ids=["pod", "node"])
def test_draws_have_the_configured_median_and_p90(spread: Spread, kind: str) -> None:
    cfg = _config()
    startup = Startup(StartupDraws(pod=POD, node=NODE, seed=1))
    draw = (lambda: startup.pod(cfg.targets[0], 0.0)) if kind == "pod" else (lambda: startup.node(cfg.node_pools[0],
                                                                                                   0.0))
    got = np.array([draw() for _ in range(20_000)])
    assert np.quantile(got, 0.5) == pytest.approx(spread.p50, rel=0.04)
    assert np.quantile(got, 0.9) == pytest.approx(spread.p90, rel=0.04)


def test_draws_are_seeded_and_the_constants_stay_without_them() -> None:
    cfg = _config()
    first, again = (Startup(StartupDraws(pod=POD, seed=7)) for _ in range(2))
    assert [first.pod(cfg.targets[0], 0.0) for _ in range(5)] == [again.pod(cfg.targets[0], 0.0) for _ in range(5)]
    plain = Startup()
    assert (plain.pod(cfg.targets[0], 0.0), plain.node(cfg.node_pools[0], 0.0)) == (180, 420)
    assert first.node(cfg.node_pools[0], 0.0) == 420  # no node spread: its constant


@pytest.mark.parametrize(("t", "factor"), [(0.0, 1.0), (500.0, 1.5), (1000.0, 2.0), (5000.0, 2.0)],
                         ids=["start", "middle", "end", "beyond"])
def test_drift_goes_linearly_from_one_to_drift(t: float, factor: float) -> None:
    assert Startup(StartupDraws(pod=POD, drift=2.0), span_s=1000.0).factor(t) == pytest.approx(factor)


@pytest.mark.parametrize(("startup", "message"), [
    ({"pod": {"p50": 420, "p90": 150}}, "backtest.startup.pod: p90 (150) must be ≥ p50 (420)"),
    ({"pod": {"p50": 0, "p90": 150}}, "backtest.startup.pod.p50"),
    ({"drift": 0}, "backtest.startup.drift"),
    ({"pods": {}}, "backtest.startup.pods: unknown field"),
], ids=["p90<p50", "p50-0", "drift-0", "typo"])
def test_bad_draws_are_refused_naming_the_field(startup: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _config(backtest={"startup": startup})
    assert any(p.startswith(message) for p in info.value.problems), info.value.problems


def test_each_pod_gets_its_own_draw_in_the_simulator() -> None:
    sim = FleetSimulator(_config(), startup=Startup(StartupDraws(pod=POD, seed=3)))
    sim.seed({"llm": 0}, {"a": 4})
    sim.apply(0.0, {"llm": 16}, {"a": 4})
    ready_at = sorted(p.ready_at for p in sim.bound["llm"])
    assert len(set(ready_at)) == 16 and ready_at[0] < 150 < ready_at[-1]


def test_the_backtest_policy_learns_the_leads_it_measured(write_csv: Any) -> None:
    """Demand steps up every 2 hours onto spare nodes: each scale-up's pods Ready after a drawn time (p50 400 s);
    the book holds what the simulator did, on the decision grid, and the plan moves off the 180 s prior."""
    rows = "".join(f"{1_700_000_000 + 60 * i},{5 + 20 * ((i // 120) % 2)}\n" for i in range(3 * 1440))
    path = write_csv("steps.csv", "timestamp,value\n" + rows)
    cfg = _config(targets=[merged(CONFIG["targets"][0], {"workload": {"lead": {"learn": True, "min_samples": 3}},
                                                          "forecast": {"model": "seasonal_naive", "season_s": 3600}})],
                  node_pools=[merged(CONFIG["node_pools"][0], {"headroom_nodes": 8})],
                  backtest={"startup": {"pod": {"p50": 400, "p90": 500}}, "warmup_s": 3600})
    sc = build_scenario(cfg, cfg.targets[0], load_trace(path))
    fs = fleet_scenario([sc])
    sim, state = _start(fs)
    policies, histories = {"llm": make_policy("predictive", sc)}, {"llm": PolicyHistory()}
    state = FleetState(state.pools)
    for i in range(24 * 60):  # one simulated day, bounded
        fd, state = step(fs, i, sim, policies, histories, state)
    measured = state.leads.measured("pod", "llm")
    assert len(measured) >= 3 and all(240 <= m <= 900 for m in measured)
    assert min(fd.targets["llm"].forecast) > 180  # the pod lead planned over: learned, not the 180 s prior
