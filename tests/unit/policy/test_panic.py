"""Panic mode in the predictive policy: demand far above the forecast's upper quantile for a while
scales up at once to what is observed (no rate limit), never down while it lasts, and says so."""

from __future__ import annotations

import numpy as np
import pytest

from forecastscale.config import NodePool, Target
from forecastscale.policy.base import PolicyHistory
from forecastscale.policy.predictive import PredictivePolicy
from forecastscale.types import Observation
from tests.conftest import target_of

POOL = NodePool(name="p", gpus_per_node=8, node_startup_s=0, max_nodes=100)
STEP = 60.0


def _target(enabled: bool, window_s: float = 120) -> Target:
    return target_of(workload={"capacity_per_replica": 10.0, "pod_startup_s": 60},
                     scaling={"target_utilisation": 0.5, "max_replicas": 200,
                              "burst": {"enabled": enabled, "factor": 1.5, "window_s": window_s, "hold_s": 300}},
                     forecast={"model": "seasonal_naive", "season_s": 3600, "step_s": 60, "window_s": 4 * 3600})


def _run(enabled: bool, demand: np.ndarray, start: int, window_s: float = 120) -> list[tuple[int, str]]:
    """Decide at every step from ``start``; the scale follows each decision at once (all pods ready)."""
    policy = PredictivePolicy(_target(enabled, window_s), POOL, STEP, STEP)
    current, history, out = 2, PolicyHistory(), []
    for i in range(start, len(demand) + 1):
        obs = Observation(t=i * STEP, step_s=STEP, demand_history=demand[:i], current_replicas=current,
                          ready_replicas=current)
        d, history = policy.decide(obs, history)
        history, current = history.scaled(obs.t, d.replicas - current), d.replicas  # the scale follows at once
        out.append((d.replicas, d.reason))
    return out


CALM = np.full(5 * 60, 10.0)  # five flat hours: the forecast (and its band) sits at 10
SURGE = np.concatenate([CALM, np.full(6, 80.0), np.full(3, 10.0)])  # 8× for six minutes, then calm


def test_panic_scales_up_at_once_where_the_hpa_is_rate_limited() -> None:
    # window 0: the first minute 8x over the band enters panic (seen one step late, at index 3)
    with_panic = _run(True, SURGE, start=len(CALM) - 2, window_s=0)
    without = _run(False, SURGE, start=len(CALM) - 2, window_s=0)
    assert without[3] == (6, "reactive/rate:up")  # the HPA default: max(+4, +100 %) per 15 s
    assert with_panic[3] == (16, "burst")  # 80 / (10 × 0.5) in one step


def test_panic_holds_after_the_surge_where_the_hpa_would_stabilise() -> None:
    got = _run(True, SURGE, start=len(CALM) - 2)
    reasons = [why for _, why in got]
    first_panic = reasons.index("burst")  # the 120-s excess run ends at the third surge minute seen
    assert first_panic == 5 and all(r == 16 for r, _ in got[first_panic:])
    assert all(why == "burst" for why in reasons[first_panic:])  # named as panic, also once demand fell
    calm = _run(False, SURGE, start=len(CALM) - 2)
    after = len(CALM) + 6 - (len(CALM) - 2) + 1  # the first decision that sees the surge over
    assert [why for _, why in calm][after:] == ["reactive/stabilised"] * (len(got) - after)


@pytest.mark.parametrize("enabled", [True, False], ids=["enabled", "disabled"])
def test_the_surprise_ratio_is_kept_for_export(enabled: bool) -> None:
    policy, history = PredictivePolicy(_target(enabled), POOL, STEP, STEP), PolicyHistory()
    for i in range(len(CALM) - 1, len(CALM) + 3):
        obs = Observation(t=i * STEP, step_s=STEP, demand_history=SURGE[:i], current_replicas=2, ready_replicas=2)
        d, history = policy.decide(obs, history)
    assert d.surprise == pytest.approx(8.0, rel=0.05)
