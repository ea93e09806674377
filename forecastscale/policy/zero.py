"""Scale to zero and back (pure): KEDA's activation, and ahead of forecast demand.

With ``scaling.min_replicas: 0`` (any other minimum leaves every rule here inert):

* **To zero** only once the target is *idle* — demand 0 over the last ``scaling.idle_s`` (KEDA's
  ``cooldownPeriod``) and no request waiting — and, for the predictive policy, the forecast over the pod lead
  is *quiet*: its median below ``scaling.wake_fraction`` of one replica's ``capacity_per_replica`` (a
  model's median is seldom exactly 0, and any positive demand would round up to a whole replica). The median,
  not the upper quantile: on a sparse series the upper band of any fitted model stays above a replica's
  worth all night (measured on benchmarks/scale_to_zero.py: with the upper quantile the target never slept);
  the median says whether demand is likely at all, the upper quantile then sizes it. Until then the floor is
  one replica. The HPA's own stabilisation window still applies on the way down.
* **Back at once** when demand or the queue is above 0 (KEDA's activation): the floor is one replica again,
  and from 0 that first replica bypasses the scale-up rate policies (a ``Percent`` policy cannot grow 0).
* **Back ahead of forecast demand**: a forecast over the pod lead that is not quiet keeps or brings a replica
  (more if it asks for more), so pods are Ready when the demand is due; the pods planned over the node lead
  (``pods_ahead``) bring a node a node lead ahead when the pool has none, as for any forecast. A quiet
  forecast counts as no demand for pods and for nodes alike, so an idle target's pool can empty to
  ``min_nodes``.

A cold start — demand while no replica is Ready — is what it costs: the simulator counts it under-provisioned
and queues (or drops) that demand like any other shortfall.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from forecastscale.config import Behavior, Target
from forecastscale.policy import behavior
from forecastscale.policy.behavior import BehaviorHistory, Normalized
from forecastscale.types import Observation, Source


def may_sleep(target: Target) -> bool:
    """Whether ``target`` may scale to zero (``min_replicas: 0``)."""
    return target.scaling.min_replicas == 0


def idle(obs: Observation, target: Target) -> bool:
    """Demand 0 over every step of the last ``idle_s`` (all of them seen) and no request waiting."""
    steps = max(1, math.ceil(target.scaling.idle_s / obs.step_s - 1e-9))
    recent = obs.demand_history[-steps:]
    return len(recent) == steps and not bool(np.any(recent > 0)) and not (obs.queue or 0.0) > 0


def quiet(likely: float | None, target: Target) -> bool:
    """Whether the median forecast peak ``likely`` (demand units/s; None: unknown) says no demand for a target
    that may sleep."""
    return may_sleep(target) and likely is not None and likely < target.scaling.wake_fraction * \
        target.workload.capacity_per_replica


def need(demand: float | None, target: Target) -> float | None:
    """Forecast demand (units/s) as replicas are sized for it: a quiet forecast is none for a target that may
    sleep; any other target's demand is unchanged."""
    if demand is None or not may_sleep(target):
        return demand
    return 0.0 if demand < target.scaling.wake_fraction * target.workload.capacity_per_replica else demand


def floor(obs: Observation, target: Target, forecast: float | None = None) -> int:
    """The fewest replicas now: ``min_replicas``, but 1 for a sleeper that is not idle or whose forecast over the
    pod lead (``forecast``, demand units/s; None: none) is not quiet."""
    if not may_sleep(target):
        return target.scaling.min_replicas
    return 0 if idle(obs, target) and not need(forecast, target) else 1


def woken(obs: Observation, lowest: int, source: Source, wanted: int) -> tuple[Source, int, str]:
    """At 0 with a floor of 1 and no source asking for a replica: ``wake`` to the floor, saying why."""
    if obs.current_replicas > 0 or lowest == 0 or wanted >= lowest:
        return source, wanted, ""
    demand = float(obs.demand_history[-1]) if len(obs.demand_history) else 0.0
    why = (f"demand {demand:.3g} > 0" if demand > 0 else f"queue {obs.queue:g} > 0" if (obs.queue or 0) > 0
           else "demand forecast within the pod lead")
    return Source.WAKE, lowest, f"; woken from 0 ({why})"


def settle(wanted: int, obs: Observation, history: BehaviorHistory, rules: Behavior, target: Target,
           lowest: int) -> Normalized:
    """Behaviour and bounds with ``lowest`` as the minimum; from 0 the first replica comes at once."""
    waking = may_sleep(target) and obs.current_replicas == 0 and lowest > 0
    norm = behavior.normalize(wanted, obs.current_replicas, obs.t, history, rules, 0 if waking else lowest,
                              target.scaling.max_replicas)
    return replace(norm, replicas=max(norm.replicas, lowest)) if waking else norm
