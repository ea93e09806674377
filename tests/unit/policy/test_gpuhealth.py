"""Health-aware capacity: exclusion at once, memory of repeated failures, quarantine, node state."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from forecastscale.policy.gpuhealth import Capacity, HealthMemory, update
from forecastscale.types import NodeHealth


def _node(name: str = "n1", bad: Sequence[int] = (), *, ready: bool = True, cordoned: bool = False,
          pool: str = "a100", gpus: int = 8) -> NodeHealth:
    return NodeHealth(name, pool, ready, cordoned, gpus, frozenset(bad))


def _run(ticks: Sequence[tuple[float, Sequence[NodeHealth]]]) -> tuple[HealthMemory, Capacity]:
    memory = HealthMemory()
    capacity = Capacity({}, {}, ())
    for t, nodes in ticks:
        memory, capacity = update(memory, nodes, t)
    return memory, capacity


def test_an_unhealthy_gpu_is_excluded_at_once_and_a_single_failure_released_at_once() -> None:
    memory, cap = update(HealthMemory(), [_node("n1", [3]), _node("n2")], 0.0)
    assert cap.usable == {"a100": 15} and cap.total == {"a100": 16}
    assert [(e.node, e.gpu, e.reason) for e in cap.excluded] == [("n1", 3, "reported unhealthy")]
    _, cap = update(memory, [_node("n1"), _node("n2")], 60.0)
    assert cap.usable == {"a100": 16} and not cap.excluded  # one failure: no quarantine


# Failed at 0 and 120 (two onsets within 3600 s), healthy again from 180: quarantined until 180 + 1800.
@pytest.mark.parametrize(("t", "usable"), [(180, 7), (1000, 7), (1979, 7), (1980, 8), (5000, 8)],
                         ids=["just-recovered", "mid-quarantine", "one-second-short", "served", "long-after"])
def test_a_gpu_that_failed_twice_is_quarantined_until_healthy_for_1800_s(t: float, usable: int) -> None:
    ticks = [(0.0, [_node(bad=[5])]), (60.0, [_node()]), (120.0, [_node(bad=[5])]), (180.0, [_node()])]
    if t > 180:
        ticks.append((t, [_node()]))
    _, cap = _run(ticks)
    assert cap.usable == {"a100": usable}
    assert usable == 8 or cap.excluded[0].reason.startswith("quarantined: 2 failures")


@pytest.mark.parametrize(("ticks", "usable"), [
    # a GPU unhealthy for many ticks failed once: released as soon as it is healthy
    ([(0, [5]), (60, [5]), (120, [5]), (180, [])], 8),
    # failures 4000 s apart are outside the 3600 s window: no quarantine
    ([(0, [5]), (60, []), (4000, [5]), (4060, [])], 8),
    # a relapse in quarantine restarts the 1800 s clock (healthy from 1200 only)
    ([(0, [5]), (60, []), (120, [5]), (180, []), (1100, [5]), (1200, []), (2100, [])], 7),
    # the same relapse, 1800 s after the last recovery: released
    ([(0, [5]), (60, []), (120, [5]), (180, []), (1100, [5]), (1200, []), (3000, [])], 8),
    # another GPU failing does not count against this one
    ([(0, [5]), (60, []), (120, [6]), (180, [])], 8),
], ids=["one-long-failure", "outside-window", "relapse-restarts-clock", "relapse-served", "per-gpu"])
def test_failure_memory(ticks: list[tuple[float, list[int]]], usable: int) -> None:
    _, cap = _run([(t, [_node(bad=bad)]) for t, bad in ticks])
    assert cap.usable == {"a100": usable}


@pytest.mark.parametrize(("node", "reason"), [
    (_node(ready=False), "node NotReady"),
    (_node(cordoned=True), "node cordoned"),
    (_node(bad=[1, 2], cordoned=True), "node cordoned"),
], ids=["notready", "cordoned", "cordoned-with-bad-gpus"])
def test_notready_or_cordoned_nodes_contribute_nothing(node: NodeHealth, reason: str) -> None:
    _, cap = update(HealthMemory(), [node, _node("n2", [0])], 0.0)
    assert cap.usable == {"a100": 7} and cap.lost("a100") == 9
    # the whole node is one exclusion: its unhealthy GPUs are not counted twice
    assert [(e.node, e.gpus, e.reason) for e in cap.excluded] == [("n1", 8, reason), ("n2", 1, "reported unhealthy")]


def test_a_notready_spell_does_not_count_as_healthy_time_in_quarantine() -> None:
    ticks = [(0.0, [_node(bad=[5])]), (60.0, [_node()]), (120.0, [_node(bad=[5])]), (180.0, [_node()]),
             (1000.0, [_node(ready=False)]), (1100.0, [_node()]), (2000.0, [_node()])]
    _, cap = _run(ticks)
    assert cap.usable == {"a100": 7} and "healthy 900 s of 1800 s" in cap.excluded[0].reason
    _, cap = _run([*ticks, (2900.0, [_node()])])
    assert cap.usable == {"a100": 8}


@pytest.mark.parametrize(("bad_per_node", "gpus_per_node", "nodes"), [
    ([[], []], 8, 0),
    ([[0], []], 8, 1),
    ([[0, 1, 2, 3, 4, 5, 6, 7], [0]], 8, 2),
    ([[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3, 4, 5, 6, 7]], 8, 2),
    ([[0, 1], [0, 1]], 4, 1),
], ids=["none-lost", "one-gpu", "nine-gpus", "two-nodes", "four-on-smaller-nodes"])
def test_replacement_nodes_cover_the_lost_gpus(bad_per_node: list[list[int]], gpus_per_node: int, nodes: int) -> None:
    _, cap = update(HealthMemory(), [_node(f"n{i}", bad) for i, bad in enumerate(bad_per_node)], 0.0)
    assert cap.replacement_nodes("a100", gpus_per_node) == nodes
    assert cap.replacement_nodes("other-pool", gpus_per_node) == 0


def test_pools_are_counted_apart_and_memory_is_not_mutated() -> None:
    nodes = [_node("a", [0]), _node("b", pool="h100", gpus=4), _node("c", pool="h100", gpus=4, ready=False)]
    start = HealthMemory()
    memory, cap = update(start, nodes, 10.0)
    assert (cap.usable, cap.total) == ({"a100": 7, "h100": 4}, {"a100": 8, "h100": 8})
    assert start == HealthMemory() and update(start, nodes, 10.0) == (memory, cap)  # pure
    assert [(r.node, r.gpu, r.failures) for r in memory.records] == [("a", 0, (10.0,))]


def test_a_node_gone_for_longer_than_the_window_is_forgotten() -> None:
    memory, _ = _run([(0.0, [_node(bad=[5])]), (60.0, [_node()]), (120.0, [_node(bad=[5])])])
    memory, _ = update(memory, [], 3000.0)
    assert len(memory.records) == 1  # n1 missing for 2880 s: remembered
    memory, _ = update(memory, [], 4000.0)
    assert memory.records == ()


@pytest.mark.parametrize("bad", [
    lambda: update(HealthMemory((), 100.0), [], 50.0),
    lambda: update(HealthMemory(), [_node("n1"), _node("n1")], 0.0),
    lambda: _node(bad=[8]),
    lambda: update(HealthMemory(), [], 0.0, fail_threshold=0),
], ids=["time-backwards", "duplicate-node", "gpu-index-out-of-range", "threshold-zero"])
def test_rejects_bad_input(bad: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        bad()
