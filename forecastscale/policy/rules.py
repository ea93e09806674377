"""HPA v2 with several metrics: one recommendation per metric, the largest wins.

Follows ``computeReplicasForMetrics`` in kubernetes/pkg/controller/podautoscaler/horizontal.go:
each metric gives a replica count, the controller takes the maximum, and when a metric could
not be read while the others would scale *down*, it does not scale at all (a missing metric is
not low load). Per metric (``replica_calculator.go``):

* ``demand`` — a resource-style utilisation over ready replicas (:func:`hpa.recommend`, with the
  unready-pod rule); ``AverageValue`` means demand per replica instead of a percentage.
* ``queue`` — an external metric with an ``AverageValue`` target: ``ceil(total / per replica)``,
  no change within tolerance of the current count.
* ``gpu_utilisation`` — a utilisation (%) averaged over ready pods, scaled like a resource metric.
* ``kv_cache`` — the share of the KV cache in use (%) averaged over ready pods, scaled the same way: an LLM
  server whose cache is full queues (or preempts) requests however idle its GPU looks, so this is the memory
  side of the load (vLLM reports it as a 0–1 fraction; the query template multiplies by 100).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from forecastscale.config import Target
from forecastscale.config.rules import MetricRule, MetricTarget
from forecastscale.policy import hpa
from forecastscale.types import Observation

_EPS = 1e-9


@dataclass(frozen=True)
class RuleResult:
    """The winning rule's replicas, every rule's replicas (None: metric unavailable), and why."""

    replicas: int
    per_metric: dict[str, int | None]
    message: str


def default_rules(target: Target) -> tuple[MetricRule, ...]:
    """``target.scaling.metrics``, or demand at ``scaling.target_utilisation`` when none are listed."""
    if target.scaling.metrics:
        return target.scaling.metrics
    pct = max(1, round(target.scaling.target_utilisation * 100))
    return (MetricRule(type="demand", target=MetricTarget(type="Utilization", average_utilization=pct)),)


def _unready(obs: Observation) -> int:
    return obs.starting_replicas + obs.pending_replicas


def _demand(obs: Observation, target: Target, goal: MetricTarget) -> tuple[int, str] | None:
    # Utilisation is a fraction of capacity_per_replica; AverageValue is demand per replica.
    if not target.scaling.metrics:  # the default rule: target_utilisation as written (not rounded to a whole %)
        util = target.scaling.target_utilisation
    elif goal.type == "Utilization":
        util = (goal.average_utilization or 0) / 100
    else:
        util = (goal.average_value or 0.0) / target.workload.capacity_per_replica
    # The last completed step's demand: the metric a controller scrapes is one step old (0 before any).
    demand = float(obs.demand_history[-1]) if len(obs.demand_history) else 0.0
    inp = hpa.HpaInput(obs.current_replicas, obs.ready_replicas, _unready(obs), demand,
                       target.workload.capacity_per_replica, util, target.scaling.tolerance)
    return hpa.recommend(inp)


def _queue(obs: Observation, target: Target, goal: MetricTarget) -> tuple[int, str] | None:
    if obs.queue is None:
        return None
    per = goal.average_value or 1.0
    current = max(obs.current_replicas, 1)
    ratio = obs.queue / (per * current)
    if abs(1.0 - ratio) <= target.scaling.tolerance:
        return obs.current_replicas, f"queue {obs.queue:.3g} ≈ {per:g} per replica: within tolerance"
    return math.ceil(obs.queue / per - _EPS), f"queue {obs.queue:.3g} at {per:g} per replica"


def _percent(label: str, pct: float | None, obs: Observation, target: Target,
             goal: MetricTarget) -> tuple[int, str] | None:
    """A percentage averaged over ready pods (``pct``, 0–100; None: not measured) against its Utilization goal."""
    if pct is None:
        return None
    # A utilisation averaged over ready pods is the resource case with capacity 1 per replica.
    inp = hpa.HpaInput(obs.current_replicas, obs.ready_replicas, _unready(obs), pct / 100 * obs.ready_replicas,
                       1.0, (goal.average_utilization or 100) / 100, target.scaling.tolerance)
    replicas, why = hpa.recommend(inp)
    return replicas, f"{label} {pct:.0f} %: " + why


def _gpu(obs: Observation, target: Target, goal: MetricTarget) -> tuple[int, str] | None:
    return _percent("GPU", obs.gpu_utilisation, obs, target, goal)


def _kv(obs: Observation, target: Target, goal: MetricTarget) -> tuple[int, str] | None:
    return _percent("KV cache", obs.kv_cache, obs, target, goal)


_CALCULATORS = {"demand": _demand, "queue": _queue, "gpu_utilisation": _gpu, "kv_cache": _kv}


def recommend(obs: Observation, target: Target) -> RuleResult:
    """The largest recommendation over ``target``'s metrics; no scale-down while one is missing."""
    per: dict[str, int | None] = {}
    parts: list[str] = []
    for rule in default_rules(target):
        got = _CALCULATORS[rule.type](obs, target, rule.target)
        per[rule.type] = None if got is None else got[0]
        parts.append(f"{rule.type}: " + ("unavailable" if got is None else f"{got[0]} ({got[1]})"))
    known = [r for r in per.values() if r is not None]
    if not known:
        return RuleResult(obs.current_replicas, per, "no metric available: kept " + str(obs.current_replicas))
    best = max(known)
    if len(known) < len(per) and best < obs.current_replicas:
        return RuleResult(obs.current_replicas, per, "; ".join(parts) + "; a metric is missing: no scale-down")
    return RuleResult(best, per, "; ".join(parts) if len(parts) > 1 else parts[0].split(": ", 1)[1])
