"""Scale to zero and back: the idle window, KEDA-like activation, and waking ahead of forecast demand."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from forecastscale.config import Config, Target
from forecastscale.policy import zero
from forecastscale.policy.base import Policy, PolicyHistory
from forecastscale.policy.predictive import PredictivePolicy
from forecastscale.policy.reactive import ReactivePolicy
from forecastscale.types import Decision, Observation, Source

STEP = 60.0
DAY = 1440  # one-minute steps
NOON = 12 * 60


def _obs(y: np.ndarray, current: int, queue: float | None = None) -> Observation:
    return Observation(t=len(y) * STEP, step_s=STEP, demand_history=y, current_replicas=current,
                       ready_replicas=current, queue=queue)


def _config(make_config: Callable[..., Config], **scaling: object) -> Config:
    """A target that may sleep (min_replicas 0), 1 demand unit per replica at 50 %, a daily seasonal-naive model."""
    return make_config(target={"workload": {"capacity_per_replica": 1.0},
                               "scaling": {"min_replicas": 0, "target_utilisation": 0.5, **scaling},
                               "forecast": {"model": "seasonal_naive", "step_s": 60, "quantile": 0.9}},
                       pool={"gpus_per_node": 4, "node_startup_s": 420, "max_nodes": 32})


def _target(make_config: Callable[..., Config], **scaling: object) -> Target:
    return _config(make_config, **scaling).targets[0]


def _predictive(make_config: Callable[..., Config], **scaling: object) -> PredictivePolicy:
    cfg = _config(make_config, **scaling)
    return PredictivePolicy(cfg.targets[0], cfg.node_pools[0], STEP, STEP)


@pytest.mark.parametrize(("tail", "queue", "idle"), [
    ([3.0, 0, 0, 0, 0, 0], None, True),      # the last 5 steps (300 s) at 0
    ([3.0, 0, 0, 0, 0], None, False),        # only 4 steps at 0
    ([0.0, 0, 0, 0, 0, 0], 2.0, False),      # a request waiting
    ([0.0, 0, 0, 0, 0, 0], 0.0, True),       # an empty queue, measured
    ([0.0, 0, 0, 0.01, 0, 0], None, False),  # any demand at all in the window
], ids=["idle-for-idle_s", "not-yet", "queue", "queue-empty", "trickle"])
def test_the_idle_window(make_config: Callable[..., Config], tail: list[float], queue: float | None,
                         idle: bool) -> None:
    target = _target(make_config, idle_s=300)
    y = np.r_[np.full(100, 5.0), tail]
    assert zero.idle(_obs(y, 1, queue), target) is idle
    assert zero.floor(_obs(y, 1, queue), target) == (0 if idle else 1)


def test_only_a_target_with_min_replicas_0_sleeps(make_config: Callable[..., Config]) -> None:
    target = _target(make_config, min_replicas=2)
    idle = _obs(np.zeros(50), 2)
    assert zero.floor(idle, target) == 2 and zero.need(0.01, target) == 0.01


@pytest.mark.parametrize(("last", "queue", "replicas", "source", "why"), [
    (3.0, None, 4, Source.REACTIVE, ""),       # demand at 0 ready: the HPA's own scale-up, at once (+4 / 15 s)
    (0.0, 5.0, 1, Source.WAKE, "woken from 0 (queue 5 > 0)"),  # no queue rule: activation brings one replica
], ids=["demand", "queue"])
def test_reactive_wakes_at_once(make_config: Callable[..., Config], last: float, queue: float | None,
                                replicas: int, source: Source, why: str) -> None:
    y = np.r_[np.zeros(30), last]
    d, _ = ReactivePolicy(_target(make_config)).decide(_obs(y, 0, queue), PolicyHistory())
    assert (d.replicas, d.source) == (replicas, source) and why in d.message


def test_from_zero_the_first_replica_ignores_a_percent_only_scale_up_policy(make_config: Callable[..., Config]) -> None:
    behavior = {"scale_up": {"stabilization_window_seconds": 0,
                             "policies": [{"type": "Percent", "value": 100, "period_seconds": 15}]}}
    d, _ = ReactivePolicy(_target(make_config, behavior=behavior)).decide(_obs(np.r_[np.zeros(30), 3.0], 0),
                                                                          PolicyHistory())
    assert d.replicas == 1  # 100 % of 0 is 0: KEDA's activation, not the HPA, brings the first replica


def _drive(policy: Policy, y: np.ndarray, start: int, current: int) -> list[Decision]:
    """Decide at steps ``start…len(y) − 1``, the workload following each decision (pods ready at once)."""
    history, out = PolicyHistory(), []
    for n in range(start, len(y)):
        d, history = policy.decide(_obs(y[:n], current), history)
        history = history.scaled(n * STEP, d.replicas - current)
        current = d.replicas
        out.append(d)
    return out


def test_reactive_goes_to_zero_only_after_idle_s(make_config: Callable[..., Config]) -> None:
    y = np.r_[np.full(60, 2.0), np.zeros(20)]  # demand stops at step 60
    decisions = _drive(ReactivePolicy(_target(make_config, idle_s=600)), y, 40, 4)
    first_zero = 40 + next(i for i, d in enumerate(decisions) if d.replicas == 0)
    assert first_zero == 60 + 10  # the 600-s idle window (the 300-s stabilisation window passed earlier)


def _sparse(days: int) -> np.ndarray:
    """Zero all day but a burst of 6/s from 12:00 to 12:30."""
    day = np.zeros(DAY)
    day[NOON: NOON + 30] = 6.0
    return np.tile(day, days)


def test_predictive_wakes_a_lead_time_ahead_of_forecast_demand(make_config: Callable[..., Config]) -> None:
    # A daily seasonal-naive forecast knows the noon burst. Pods (pod lead 180 s = 3 steps) are asked for at
    # 11:57, so that they are Ready at noon; nodes are planned a node + pod lead (10 steps) ahead, at 11:50.
    y = _sparse(3)
    morning = 2 * DAY + 11 * 60
    decisions = _drive(_predictive(make_config), y, morning, current=0)
    first_pod = morning + next(i for i, d in enumerate(decisions) if d.replicas > 0)
    first_plan = morning + next(i for i, d in enumerate(decisions) if (d.pods_ahead or 0) > 0)
    assert first_pod == 2 * DAY + NOON - 3
    assert first_plan == 2 * DAY + NOON - 10
    woken = decisions[first_pod - morning]
    assert woken.source is Source.FORECAST and woken.replicas >= 1
    assert all(d.replicas == 0 for d in decisions[: first_pod - morning])  # asleep until then


def test_predictive_sleeps_once_idle_and_the_forecast_is_quiet(make_config: Callable[..., Config]) -> None:
    y = _sparse(3)[: 2 * DAY + NOON + 60]  # through the burst, then 30 min of nothing
    decisions = _drive(_predictive(make_config, idle_s=300), y, 2 * DAY + NOON - 20, current=0)
    steps = {2 * DAY + NOON - 20 + i: d.replicas for i, d in enumerate(decisions)}
    end = 2 * DAY + NOON + 30  # the burst's last step is end − 1
    # deciding at end + 4 the last five completed steps still hold the burst's last; at end + 5 they are 300 s of
    # zeros (and the 300-s stabilisation window has let go of the burst's recommendations): asleep
    assert steps[end + 4] >= 1 and steps[end + 5] == 0
    assert all(steps[k] == 0 for k in steps if k >= end + 5)


def test_predictive_wakes_at_once_on_a_queue(make_config: Callable[..., Config]) -> None:
    y = np.zeros(3 * DAY)  # the forecast says nothing will come
    policy = _predictive(make_config)
    d, _ = policy.decide(_obs(y, 0, queue=2.0), PolicyHistory())
    assert (d.replicas, d.source) == (1, Source.WAKE) and "queue 2 > 0" in d.message
    d, _ = policy.decide(_obs(y, 0, queue=0.0), PolicyHistory())
    assert d.replicas == 0 and d.pods_ahead == 0  # and with nothing waiting it stays asleep, nodes too



@pytest.mark.parametrize(("likely", "min_replicas", "quiet"), [
    (None, 0, False),   # no median on the tape or no fit: not known to be quiet
    (0.0, 0, True),
    (0.099, 0, True),   # below wake_fraction (0.1) × capacity_per_replica (1.0)
    (0.1, 0, False),    # a tenth of a replica's worth is demand
    (0.0, 1, False),    # a target that may not sleep is never quiet
], ids=["unknown", "zero", "below", "at-threshold", "no-sleep"])
def test_quiet_is_judged_on_the_median(make_config: Callable[..., Config], likely: float | None,
                                       min_replicas: int, quiet: bool) -> None:
    target = _target(make_config) if min_replicas == 0 else make_config(
        target={"workload": {"capacity_per_replica": 1.0}, "scaling": {"min_replicas": 1}}).targets[0]
    assert zero.quiet(likely, target) is quiet
