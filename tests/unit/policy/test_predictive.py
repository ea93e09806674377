"""The predictive decision: max(forecast, reactive) named in the reason; pods planned for the node lead time."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from forecastscale.config import Config
from forecastscale.policy.base import PolicyHistory
from forecastscale.policy.predictive import PredictivePolicy
from forecastscale.policy.tape import RollingForecast, make_tape
from forecastscale.types import Decision, Observation

DAY = 1440  # one-minute steps


def _history(days: int, level: float, evening_peak: float) -> np.ndarray:
    """Flat ``level`` with a daily peak of ``evening_peak`` from 18:00 to 19:00."""
    day = np.full(DAY, level)
    day[18 * 60: 19 * 60] = evening_peak
    return np.tile(day, days)


def _obs(history: np.ndarray, replicas: int, offset: int = 0) -> Observation:
    return Observation(t=(len(history) + offset) * 60.0, step_s=60.0, demand_history=history,
                       current_replicas=replicas, ready_replicas=replicas, history_offset=offset)


def _decide(policy: PredictivePolicy, obs: Observation) -> Decision:
    return policy.decide(obs, PolicyHistory())[0]


def _policy(make_config: Callable[..., Config]) -> PredictivePolicy:
    cfg = make_config(target={"workload": {"capacity_per_replica": 1.0}, "scaling": {"target_utilisation": 0.5},
                              "forecast": {"model": "seasonal_naive", "step_s": 60, "quantile": 0.9}},
                      pool={"gpus_per_node": 4, "node_startup_s": 420, "max_nodes": 32})
    return PredictivePolicy(cfg.targets[0], cfg.node_pools[0], 60.0, 60.0)


def test_forecast_wins_ahead_of_a_known_peak(make_config: Callable[..., Config]) -> None:
    # At 17:58 the peak (20/s) starts within the 180-s pod lead time: 20 / 0.5 = 40 replicas,
    # while the HPA on the current 4/s asks for 8.
    history = _history(3, 4.0, 20.0)[: 2 * DAY + 18 * 60 - 2]
    decision = _decide(_policy(make_config), _obs(history, 8))
    assert decision.reason == "forecast/rate:up"  # 8 → 16: max(+4, +100 %) per 15 s
    assert "max(forecast 40" in decision.message and "reactive 8" in decision.message
    assert decision.pods_ahead == 40  # the fleet packs them: 10 nodes of 4


def test_nodes_lead_pods_by_the_node_startup(make_config: Callable[..., Config]) -> None:
    # At 17:50 the peak is 10 min away: beyond the pod lead (3 min), within node + pod (10 min).
    history = _history(3, 4.0, 20.0)[: 2 * DAY + 17 * 60 + 50]
    decision = _decide(_policy(make_config), _obs(history, 8))
    assert decision.replicas == 8  # pods not yet
    assert decision.pods_ahead == 40  # but planned for the node lead: the 40 pods to come


def test_reactive_floor_wins_on_a_surprise(make_config: Callable[..., Config]) -> None:
    # Demand never seen at this hour: the forecast says 4/s, the HPA sees 30/s now.
    history = _history(3, 4.0, 4.0)[: 2 * DAY + 12 * 60]
    history[-1] = 30.0
    decision = _decide(_policy(make_config), _obs(history, 8))
    assert decision.reason == "reactive/rate:up"
    assert "reactive 60" in decision.message


def test_a_sliding_window_with_offset_decides_as_the_whole_history(make_config: Callable[..., Config]) -> None:
    # The live loop keeps only the last days and says where they start (history_offset); as long
    # as the window covers what the fit uses, the decision is the one made on the whole history.
    history = _history(4, 4.0, 20.0)[: 3 * DAY + 18 * 60 - 2]
    keep = 2 * DAY + 7  # not a whole number of fit buckets on purpose
    whole = _decide(_policy(make_config), _obs(history, 8))
    cut = len(history) - keep
    sliding = _decide(_policy(make_config), _obs(history[cut:], 8, offset=cut))
    assert (sliding.replicas, sliding.pods_ahead, sliding.reason) == (whole.replicas, whole.pods_ahead, whole.reason)
    assert sliding.candidates == whole.candidates == {"reactive": 8, "forecast": 40}


def test_refit_phase_brings_only_the_first_refit_forward(make_config: Callable[..., Config]) -> None:
    # Hourly refits at 1-min steps (60 steps); a 20-min phase: fits at 0, 40, 100, 160 steps on.
    cfg = make_config(target={"forecast": {"model": "seasonal_naive", "step_s": 60}})
    target, pool = cfg.targets[0], cfg.node_pools[0]
    tape = make_tape(target, pool, 60.0, 60.0)
    forecast = RollingForecast(tape, target.forecast.quantile, 60.0, phase_s=20 * 60)
    history = _history(3, 4.0, 20.0)
    start = 2 * DAY
    for i in range(start, start + 170):
        forecast.window_max(history[:i], i, 3)
    assert sorted(tape._fits) == [start, start + 40, start + 100, start + 160]
