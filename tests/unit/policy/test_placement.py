"""Placement: own pool first, spill to the next eligible pool, share a full pool, cap only what fits nowhere."""

from __future__ import annotations

from typing import Any

import pytest

from forecastscale.config import Config, parse_config
from forecastscale.policy.placement import Placement
from tests.conftest import merged


def _config(*targets: dict[str, Any], second: dict[str, Any] | None = None) -> Config:
    pools = [{"name": "a100", "gpus_per_node": 8, "max_nodes": 2},
             {"name": "h100", "gpus_per_node": 8, "max_nodes": 4, **(second or {})}]
    base = {"workload": {"capacity_per_replica": 1}, "scaling": {"max_replicas": 100},
            "scheduling": {"node_pool": "a100"}}
    return parse_config({"targets": [merged(base, t) for t in targets], "node_pools": pools})


def _allocate(config: Config, wanted: dict[str, int], lost: dict[str, int] | None = None) -> Any:
    return Placement(config).allocate(wanted, lost)


TAINTED = {"taints": [{"key": "gpu", "value": "h100", "effect": "NoSchedule"}]}


@pytest.mark.parametrize(("wanted", "second", "granted", "capped"), [
    (12, None, {"a100": 12}, False),
    (26, None, {"a100": 16, "h100": 10}, False),  # the first pool full: the rest goes next door, uncapped
    (26, TAINTED, {"a100": 16}, True),  # the second pool's taint is not tolerated: only then capped
    (60, None, {"a100": 16, "h100": 32}, True),  # both full
], ids=["fits-home", "spills", "not-eligible-capped", "both-full-capped"])
def test_one_target_fills_its_own_pool_then_the_next(wanted: int, second: dict[str, Any] | None,
                                                     granted: dict[str, int], capped: bool) -> None:
    config = _config({"name": "chat"}, second=second)
    out = _allocate(config, {"chat": wanted})
    assert out.granted["chat"] == granted and ("chat" in out.capped) == capped and not out.unplaced


def test_a_toleration_makes_the_tainted_pool_eligible() -> None:
    config = _config({"name": "chat", "scheduling": {"tolerations": [{"key": "gpu", "operator": "Exists"}]}},
                     second=TAINTED)
    assert Placement(config).eligible_pools("chat") == ["a100", "h100"]
    assert _allocate(config, {"chat": 26}).granted["chat"] == {"a100": 16, "h100": 10}


def test_a_full_pool_is_shared_by_share_and_what_it_leaves_spills() -> None:
    config = _config({"name": "a", "scheduling": {"share": 3}}, {"name": "b", "scheduling": {"share": 1}},
                     second=TAINTED)
    out = _allocate(config, {"a": 16, "b": 16})
    assert out.granted == {"a": {"a100": 12}, "b": {"a100": 4}}  # 16 GPUs: 3:1 of the unmet demand
    assert set(out.capped) == {"a", "b"} and "pool a100 full" in out.capped["a"]


def test_minima_are_granted_first() -> None:
    config = _config({"name": "a", "scheduling": {"share": 10}}, {"name": "b", "scaling": {"min_replicas": 6}},
                     second=TAINTED)
    out = _allocate(config, {"a": 16, "b": 16})
    assert out.granted["b"]["a100"] >= 6 and out.total("a") + out.total("b") == 16


def test_unusable_gpus_shrink_a_pool_and_push_pods_next_door() -> None:
    config = _config({"name": "chat"})
    assert _allocate(config, {"chat": 16}, {"a100": 8}).granted["chat"] == {"a100": 8, "h100": 8}


def test_pods_that_may_run_nowhere_are_reported_never_cut() -> None:
    config = _config({"name": "big", "workload": {"gpus_per_pod": 8},
                      "scheduling": {"node_selector": {"zone": "mars"}}})
    out = _allocate(config, {"big": 3})
    assert out.granted["big"] == {} and "big" not in out.capped
    assert out.unplaced["big"][0] == 3 and "selector: zone=mars" in out.unplaced["big"][1]


@pytest.mark.parametrize(("pods", "headroom", "nodes"), [
    ({"a": 3, "b": 2}, 0, 2),  # 3 × 4 GPUs + 2 × 2 = 16 GPUs: two nodes, pods of both targets share one
    ({"a": 3, "b": 2}, 1, 3),  # + one spare node
    ({}, 1, 1),  # headroom alone
    ({"a": 40}, 0, 4),  # never above max_nodes
], ids=["packed", "headroom", "headroom-only", "bounded"])
def test_a_pool_is_bin_packed_with_its_headroom(pods: dict[str, int], headroom: int, nodes: int) -> None:
    config = _config({"name": "a", "workload": {"gpus_per_pod": 4}}, {"name": "b", "workload": {"gpus_per_pod": 2}},
                     second={"headroom_nodes": headroom})
    assert Placement(config).pack(config.node_pools[1], pods, headroom=True).nodes["h100"] == nodes
