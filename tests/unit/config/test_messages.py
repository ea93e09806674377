"""A misspelt config key is refused, never accepted silently, and the error names the closest known key at
its own level: ``did you mean `target_utilisation`?``."""

from __future__ import annotations

from typing import Any

import pytest

from forecastscale.config import parse_config
from forecastscale.config.messages import did_you_mean
from forecastscale.errors import ConfigError
from tests.conftest import BASE_CONFIG, merged

TARGET = BASE_CONFIG["targets"][0]


def with_target(patch: dict[str, Any]) -> dict[str, Any]:
    return {**BASE_CONFIG, "targets": [merged(TARGET, patch)]}


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return caught.value.problems


@pytest.mark.parametrize(("raw", "line"), [
    (merged(BASE_CONFIG, {"servce": {}}), "servce: unknown field; did you mean `service`?"),
    (merged(BASE_CONFIG, {"node_pool": []}), "node_pool: unknown field, got []; did you mean `node_pools`?"),
    (with_target({"scalling": {}}), "targets[0].scalling: unknown field; did you mean `scaling`?"),
    (with_target({"scaling": {"target_utilization": 0.7}}),
     "targets[0].scaling.target_utilization: unknown field, got 0.7; did you mean `target_utilisation`?"),
    (with_target({"target_utilization": 0.7}),
     "targets[0].target_utilization: unknown field, got 0.7; did you mean `scaling.target_utilisation`?"),
    (with_target({"scaling": {"behavior": {"scale_up": {"stabilization_window_second": 60}}}}),
     "targets[0].scaling.behavior.scale_up.stabilization_window_second: unknown field, got 60; "
     "did you mean `stabilization_window_seconds`?"),
    (with_target({"events": {"cron": [{"name": "am", "schedule": "0 9 * * *", "duration_s": 3600,
                                       "min_replica": 4}]}}),
     "targets[0].events.cron[0].min_replica: unknown field, got 4; did you mean `min_replicas`?"),
    (merged(BASE_CONFIG, {"node_pools": [{**BASE_CONFIG["node_pools"][0], "gpus_per_nodes": 8}]}),
     "node_pools[0].gpus_per_nodes: unknown field, got 8; did you mean `gpus_per_node`?"),
    (merged(BASE_CONFIG, {"service": {"leader_election": {"lease_duration": 15}}}),
     "service.leader_election.lease_duration: unknown field, got 15; did you mean `lease_duration_s`?"),
    (merged(BASE_CONFIG, {"backtest": {"warmup": 3600}}),
     "backtest.warmup: unknown field, got 3600; did you mean `warmup_s`?"),
], ids=["top-level", "top-level-plural", "target-section", "scaling-utilization", "flat-key-to-its-section",
        "behavior-four-deep", "cron-event-in-a-list", "node-pool", "leader-election", "backtest-unit"])
def test_a_misspelt_key_fails_naming_the_closest_known_key(raw: dict[str, Any], line: str) -> None:
    assert line in problems(raw)


@pytest.mark.parametrize(("raw", "line"), [
    (merged(BASE_CONFIG, {"colour": "blue"}), "colour: unknown field, got 'blue'"),
    (with_target({"scaling": {"speed": 3}}), "targets[0].scaling.speed: unknown field, got 3"),
], ids=["top-level", "scaling"])
def test_an_unknown_key_like_none_gets_no_guess(raw: dict[str, Any], line: str) -> None:
    assert problems(raw) == [line]


@pytest.mark.parametrize(("key", "known", "suggestion"), [
    ("target_utilization", {"target_utilisation": "target_utilisation", "tolerance": "tolerance"},
     "; did you mean `target_utilisation`?"),
    ("min_replica", {"min_replicas": "min_replicas", "max_replicas": "max_replicas"}, "; did you mean `min_replicas`?"),
    ("xyz", {"min_replicas": "min_replicas"}, ""),
    ("anything", {}, ""),
], ids=["utilization", "closest-of-two", "none-close", "nothing-known"])
def test_did_you_mean(key: str, known: dict[str, str], suggestion: str) -> None:
    assert did_you_mean(key, known) == suggestion
