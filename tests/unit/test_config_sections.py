"""A target's sections (config format 2): their defaults, their checks (with the path of each error), and the
cross-section ones of the whole file."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import BaseModel

from forecastscale.config import (
    MAX_HISTORY_STEPS,
    EventSettings,
    ForecastSettings,
    Queries,
    ScalingSettings,
    SchedulingSettings,
    TargetBacktest,
    WorkloadSettings,
    parse_config,
)
from forecastscale.errors import ConfigError
from tests.conftest import BASE_CONFIG, merged

SECTIONS: list[type[BaseModel]] = [WorkloadSettings, ScalingSettings, ForecastSettings, Queries,
                                   SchedulingSettings, EventSettings, TargetBacktest]


def _target(**sections: Any) -> dict[str, Any]:
    """The base config with its target's sections merged with ``sections``."""
    raw = copy.deepcopy(BASE_CONFIG)
    raw["targets"][0] = merged(raw["targets"][0], sections)
    return raw


def _problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    return info.value.problems


@pytest.mark.parametrize("section", SECTIONS, ids=[s.__name__ for s in SECTIONS])
def test_every_field_of_every_section_is_documented(section: type[BaseModel]) -> None:
    assert [n for n, f in section.model_fields.items() if not f.description] == []


def test_the_sections_default_as_the_flat_fields_did() -> None:
    t = parse_config(BASE_CONFIG).targets[0]
    w = t.workload
    assert (w.kind, w.name, w.namespace, w.demand_unit, w.demand_scale, w.cpu, w.memory_gib, w.max_wait_s) == (
        "Deployment", "llm", "default", "requests_per_s", 1.0, 0.0, 0.0, 60)
    s = t.scaling
    assert (s.tolerance, s.metrics, s.fallback_replicas, s.burst.enabled) == (0.1, (), None, False)
    assert (t.queries, t.events.cron, t.backtest.trace) == (Queries(), (), None)
    assert (t.scheduling.node_pool, t.scheduling.node_selector, t.scheduling.share) == (None, {}, 1.0)


def test_the_workload_is_the_deployment_named_like_the_target_unless_named() -> None:
    config = parse_config(_target(workload={"namespace": "inference"}))
    assert (config.targets[0].workload.name, config.targets[0].workload.namespace) == ("llm", "inference")
    named = parse_config(_target(workload={"kind": "StatefulSet", "name": "llm-sts"})).targets[0].workload
    assert (named.kind, named.name) == ("StatefulSet", "llm-sts")


def test_queries_fill_in_the_target_and_its_workload() -> None:
    raw = _target(workload={"name": "vllm", "namespace": "inference"},
                  queries={"queue": 'q{ns="$namespace", svc="$workload", t="$target"}'})
    raw["service"] = {"queries": {"demand": 'd{svc="$workload"}', "queue": "unused"}}
    config = parse_config(raw)
    t = config.targets[0]
    assert config.query(t, "demand") == 'd{svc="vllm"}'  # the service default
    assert config.query(t, "queue") == 'q{ns="inference", svc="vllm", t="llm"}'  # the target's own wins
    assert config.query(t, "gpu_utilisation") is None


@pytest.mark.parametrize(("sections", "expected"), [
    ({"workload": {"capacity_per_replica": 0}}, "targets[0].workload.capacity_per_replica: must be > 0, got 0"),
    ({"workload": {"kind": "Job"}},
     "targets[0].workload.kind: must be one of 'Deployment' or 'StatefulSet', got 'Job'"),
    ({"workload": {"name": ""}}, "targets[0].workload.name: String should have at least 1 character, got ''"),
    ({"workload": {"demand_scale": 0}}, "targets[0].workload.demand_scale: must be > 0, got 0"),
    ({"workload": {"max_wait_s": -1}}, "targets[0].workload.max_wait_s: must be >= 0, got -1"),
    ({"workload": {"cpu": -1}}, "targets[0].workload.cpu: must be >= 0, got -1"),
    ({"scaling": {"tolerance": 1}}, "targets[0].scaling.tolerance: must be < 1, got 1"),
    ({"scaling": {"fallback_replicas": -1}}, "targets[0].scaling.fallback_replicas: must be >= 0, got -1"),
    ({"scaling": {"burst": {"factor": 1}}}, "targets[0].scaling.burst.factor: must be > 1, got 1"),
    ({"scaling": {"behavior": {"scale_down": {"stabilization_window_seconds": 4000, "policies": []}}}},
     "targets[0].scaling.behavior.scale_down.stabilization_window_seconds: must be <= 3600, got 4000"),
    ({"scaling": {"metrics": [{"type": "queue", "target": {"type": "Utilization", "average_utilization": 50}}]}},
     "targets[0].scaling.metrics[0]: metric queue takes target type AverageValue, got Utilization"),
    ({"scheduling": {"share": 0}}, "targets[0].scheduling.share: must be > 0, got 0"),
    ({"scheduling": {"tolerations": [{"operator": "Equal"}]}},
     "targets[0].scheduling.tolerations[0]: operator Equal needs a key"),
    ({"scheduling": {"affinity": [{"key": "gpu", "operator": "In"}]}},
     "targets[0].scheduling.affinity[0]: operator In needs values"),
    ({"events": {"cron": [{"name": "x", "schedule": "0 9 * *", "duration_s": 60, "min_replicas": 2}]}},
     "targets[0].events.cron[0].schedule: bad cron expression"),
    ({"events": {"schedules": []}}, "targets[0].events.schedules: unknown field, got []"),
    ({"backtest": {"trace": ["a.csv"]}}, "targets[0].backtest.trace: Input is not a valid path"),
    ({"queries": {"demand": 'rate(x{model="$model"}[1m])'}},
     "targets[0].queries.demand: unknown variable $model; have $target, $namespace, $workload, "
     "got 'rate(x{model=\"$model\"}[1m])'"),
    ({"queries": {"queue": "x > $"}}, "targets[0].queries.queue: bad template (Invalid placeholder in string"),
    ({"queries": {"gpu_health": "x"}}, "targets[0].queries.gpu_health: unknown field, got 'x'"),
], ids=["capacity-0", "kind", "empty-name", "scale-0", "wait<0", "cpu<0", "tolerance-1",
        "fallback<0", "burst-factor", "stabilisation", "metric-target", "share-0", "toleration", "affinity",
        "cron", "old-name-in-section", "trace-list", "template-variable", "lone-dollar", "pool-query-per-target"])
def test_a_bad_section_field_is_one_line_with_its_path(sections: dict[str, Any], expected: str) -> None:
    [problem] = _problems(_target(**sections))
    assert problem.startswith(expected), problem


def test_a_target_without_its_required_sections_names_them() -> None:
    assert _problems({**BASE_CONFIG, "targets": [{"name": "bare"}]}) == [
        "targets[0].workload: required field missing", "targets[0].scaling: required field missing"]


def test_several_pools_need_the_target_to_name_one_and_duplicates_are_named() -> None:
    raw = _target()
    raw["node_pools"].append({"name": "h100", "gpus_per_node": 8, "max_nodes": 2})
    raw["targets"].append(copy.deepcopy(raw["targets"][0]) | {"scheduling": {"node_pool": "h100"}})
    assert _problems(raw) == ["targets[0].scheduling.node_pool: required with several pools ['gpu', 'h100']",
                              "duplicate target name 'llm'"]


def test_a_pod_too_big_for_the_named_pool_is_named_at_the_workload() -> None:
    raw = _target(workload={"gpus_per_pod": 8}, scheduling={"node_pool": "h100"})
    raw["node_pools"].append({"name": "h100", "gpus_per_node": 8, "max_nodes": 2})
    assert parse_config(raw).pool_for(parse_config(raw).targets[0]).name == "h100"  # fits its own pool
    raw["targets"][0]["scheduling"]["node_pool"] = "gpu"
    assert _problems(raw) == ["targets[0].workload.gpus_per_pod: 8 exceeds gpus_per_node 4 of pool 'gpu'"]


def test_the_lead_time_is_the_workload_startup_on_its_pool() -> None:
    config = parse_config(_target(workload={"pod_startup_s": 90}))
    lead = config.leads(config.targets[0])
    assert (lead.pod_s, lead.node_s, lead.total_s) == (90, 420, 510)


def test_buffer_bounds_still_hold_per_target() -> None:
    raw = _target(forecast={"window_s": 60 * 86400})
    raw["service"] = {"tick_s": 1}
    [problem] = _problems(raw)
    assert problem.startswith("targets[0].forecast: keeps 5,184,000 steps of history at service.tick_s 1")
    assert f"at most {MAX_HISTORY_STEPS:,}" in problem
