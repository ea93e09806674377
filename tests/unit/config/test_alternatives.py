"""``workload.alternatives`` and ``node_pools[].stockout_factor``: validated at the edge, every error naming the field
and the value."""

from __future__ import annotations

from typing import Any

import pytest

from forecastscale.config import parse_config
from forecastscale.errors import ConfigError

POOLS = [{"name": "h100", "gpus_per_node": 8, "max_nodes": 4}, {"name": "a100", "gpus_per_node": 4, "max_nodes": 8}]


def _config(alternatives: list[dict[str, Any]], **pool: Any) -> dict[str, Any]:
    return {"targets": [{"name": "chat", "workload": {"capacity_per_replica": 2, "alternatives": alternatives},
                         "scheduling": {"node_pool": "h100"}, "scaling": {"max_replicas": 10}}],
            "node_pools": [{**POOLS[0], **pool}, POOLS[1]]}


def test_an_alternative_gets_its_workload_named_after_the_pool_and_the_pod_defaults_of_the_target() -> None:
    cfg = parse_config(_config([{"pool": "a100", "capacity_per_replica": 1}]))
    alt = cfg.targets[0].workload.alternatives[0]
    assert (alt.name, alt.gpus_per_pod, alt.cpu, alt.pod_startup_s) == ("chat-a100", 1, None, None)
    assert cfg.node_pools[0].stockout_factor == 3


@pytest.mark.parametrize(("alternatives", "pool", "message"), [
    ([{"pool": "h100", "capacity_per_replica": 1}], {}, "alternatives[0].pool: 'h100' is the target's own pool"),
    ([{"pool": "l4", "capacity_per_replica": 1}], {}, "alternatives[0].pool: unknown pool 'l4'"),
    ([{"pool": "a100", "capacity_per_replica": 1, "gpus_per_pod": 8}], {},
     "alternatives[0].gpus_per_pod: 8 exceeds gpus_per_node 4 of pool 'a100'"),
    ([{"pool": "a100", "capacity_per_replica": 0}], {}, "alternatives[0].capacity_per_replica: must be > 0, got 0"),
    ([{"pool": "a100", "capacity_per_replica": 1}] * 2, {}, "pool 'a100' listed twice"),
    ([{"pool": "a100", "capacity_per_replica": 1, "name": "chat"}], {}, "must differ"),
    ([{"pool": "a100", "capacity_per_replica": 1, "replicas": 3}], {}, "replicas"),
    ([], {"stockout_factor": 0.5}, "stockout_factor: must be >= 1, got 0.5"),
    ([], {"stockout_factor": "soon"}, "stockout_factor"),
], ids=["own-pool", "unknown-pool", "pod-too-big", "zero-capacity", "same-pool-twice", "same-workload-name",
        "unknown-key", "factor-below-one", "factor-not-a-number"])
def test_bad_alternatives_and_factors_are_refused_naming_field_and_value(alternatives: list[dict[str, Any]],
                                                                        pool: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(_config(alternatives, **pool))
    assert message in str(err.value)
