"""HPA v2 with several metrics: per-metric recommendations, the largest wins, missing metrics hold."""

from __future__ import annotations

import numpy as np
import pytest

from forecastscale.config import Target
from forecastscale.config.rules import MetricRule, MetricTarget
from forecastscale.policy.rules import default_rules, recommend
from forecastscale.types import Observation
from tests.conftest import target_of


def _obs(demand: float, current: int = 4, ready: int = 4, queue: float | None = None,
         gpu: float | None = None, starting: int = 0, kv: float | None = None) -> Observation:
    return Observation(t=0.0, step_s=60.0, demand_history=np.array([demand]), current_replicas=current,
                       ready_replicas=ready, starting_replicas=starting, queue=queue, gpu_utilisation=gpu,
                       kv_cache=kv)


def _target(*rules: MetricRule) -> Target:
    return target_of(workload={"capacity_per_replica": 10.0},
                     scaling={"target_utilisation": 0.5, "max_replicas": 100, "metrics": rules})


DEMAND_70 = MetricRule(type="demand", target=MetricTarget(type="Utilization", average_utilization=70))
DEMAND_PER_REPLICA = MetricRule(type="demand", target=MetricTarget(type="AverageValue", average_value=4.0))
QUEUE_4 = MetricRule(type="queue", target=MetricTarget(type="AverageValue", average_value=4.0))
GPU_80 = MetricRule(type="gpu_utilisation", target=MetricTarget(type="Utilization", average_utilization=80))
KV_85 = MetricRule(type="kv_cache", target=MetricTarget(type="Utilization", average_utilization=85))


@pytest.mark.parametrize(("rules", "obs", "expected"), [
    # Docs: desired = ceil(current × current value / desired value).
    ((DEMAND_70,), _obs(56.0), 8),  # 4 replicas at 140 % of capacity vs 70 % → ×2
    ((DEMAND_70,), _obs(14.0), 2),  # 35 % vs 70 % → halved
    ((DEMAND_70,), _obs(29.0), 4),  # 72.5 % vs 70 %: within the 10 % tolerance
    ((DEMAND_PER_REPLICA,), _obs(40.0), 10),  # 10 per replica vs 4 → ceil(4 × 2.5)
    ((QUEUE_4,), _obs(0.0, queue=30.0), 8),  # external AverageValue: ceil(30 / 4)
    ((QUEUE_4,), _obs(0.0, queue=17.0), 4),  # 4.25 per replica vs 4: within tolerance
    ((GPU_80,), _obs(0.0, gpu=100.0), 5),  # ceil(4 × 100 / 80)
    ((DEMAND_70, QUEUE_4, GPU_80), _obs(14.0, queue=30.0, gpu=40.0), 8),  # max(2, 8, 2)
    ((DEMAND_70, GPU_80), _obs(56.0, gpu=100.0), 8),  # max(8, 5)
    ((DEMAND_70, QUEUE_4), _obs(14.0, queue=None), 4),  # demand says 2, queue unknown: no scale-down
    ((DEMAND_70, QUEUE_4), _obs(56.0, queue=None), 8),  # but scale-up on what is known goes ahead
    ((KV_85,), _obs(0.0, kv=100.0), 5),  # a full KV cache: ceil(4 × 100 / 85)
    ((KV_85,), _obs(0.0, kv=42.5), 2),  # half the goal: halved
    ((KV_85,), _obs(0.0, kv=90.0), 4),  # 90 / 85 = 1.06: within the 10 % tolerance
    ((KV_85,), _obs(0.0, kv=0.0), 0),  # an empty cache: none (min_replicas applies later)
    ((DEMAND_70, KV_85), _obs(14.0, kv=100.0), 5),  # max(demand 2, KV 5): memory-bound, not compute-bound
    ((DEMAND_70, QUEUE_4, GPU_80, KV_85), _obs(14.0, queue=30.0, gpu=40.0, kv=100.0), 8),  # max(2, 8, 2, 5)
    ((DEMAND_70, KV_85), _obs(14.0, kv=None), 4),  # KV cache not measured: demand's 2 may not scale down
], ids=["docs-double", "docs-halve", "tolerance", "demand-average-value", "queue-average-value",
        "queue-tolerance", "gpu-utilisation", "largest-wins-queue", "largest-wins-demand",
        "missing-metric-blocks-scale-down", "missing-metric-allows-scale-up", "kv-full", "kv-half",
        "kv-tolerance", "kv-empty", "kv-wins-over-demand", "all-four-queue-wins", "kv-missing-blocks-scale-down"])
def test_each_metric_and_the_largest_wins(rules: tuple[MetricRule, ...], obs: Observation, expected: int) -> None:
    got = recommend(obs, _target(*rules))
    assert got.replicas == expected, got.message
    assert set(got.per_metric) == {r.type for r in rules}


def test_without_metrics_the_target_utilisation_is_the_one_rule() -> None:
    target = target_of(workload={"capacity_per_replica": 10.0},
                       scaling={"target_utilisation": 0.5, "max_replicas": 100})
    (rule,) = default_rules(target)
    assert (rule.type, rule.target.average_utilization) == ("demand", 50)
    assert recommend(_obs(40.0), target).replicas == 8  # 100 % of 4 replicas vs 50 %


@pytest.mark.parametrize(("rule", "obs", "label"), [
    (GPU_80, _obs(0.0, current=6, ready=4, gpu=100.0, starting=2), "GPU 100 %"),
    (KV_85, _obs(0.0, current=6, ready=4, kv=100.0, starting=2), "KV cache 100 %"),
], ids=["gpu", "kv-cache"])
def test_percentages_count_unready_pods_at_zero_on_scale_up(rule: MetricRule, obs: Observation, label: str) -> None:
    # 4 ready at 100 % plus 2 starting: (4 × 100) / (6 × 80 or 85) < 1, the starting pods cover it.
    got = recommend(obs, _target(rule))
    assert got.replicas == 6 and "unready pods cover it" in got.message and f"({label}:" in got.message


@pytest.mark.parametrize(("rule", "problem"), [
    ({"type": "queue", "target": {"type": "Utilization", "average_utilization": 50}}, "takes target type"),
    ({"type": "gpu_utilisation", "target": {"type": "AverageValue", "average_value": 3}}, "takes target type"),
    ({"type": "kv_cache", "target": {"type": "AverageValue", "average_value": 0.8}}, "takes target type"),
    ({"type": "kv_cache", "target": {"type": "Utilization", "average_utilization": 101}}, "less than or equal to 100"),
    ({"type": "demand", "target": {"type": "Utilization"}}, "needs average_utilization"),
    ({"type": "demand", "target": {"type": "Utilization", "average_utilization": 50, "average_value": 2}},
     "not average_value"),
], ids=["queue-utilisation", "gpu-average-value", "kv-average-value", "kv-over-100", "missing-value",
        "both-values"])
def test_bad_metric_rules_are_named(rule: dict[str, object], problem: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=problem):
        MetricRule.model_validate(rule)
