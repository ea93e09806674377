"""HealthWatch: node and GPU reports → usable capacity per pool, replacement nodes, errors contained."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry

from forecastscale.config import parse_config
from forecastscale.errors import TemporaryError
from forecastscale.service.health import HealthWatch
from forecastscale.service.metrics import ServiceMetrics
from forecastscale.types import NodeHealth

CONFIG = parse_config({
    "targets": [{"name": "t", "workload": {"capacity_per_replica": 1}, "scaling": {"max_replicas": 10},
                 "scheduling": {"node_pool": "gpu"}}],
    "node_pools": [{"name": "gpu", "gpus_per_node": 8, "max_nodes": 10, "labels": {"pool": "gpu"},
                    "health": {"enabled": True, "fail_threshold": 2, "quarantine_s": 600}},
                   {"name": "cpu", "gpus_per_node": 1, "max_nodes": 10}],
})


class Nodes:
    """What the node list says this tick (set by the test), or an error to raise."""

    def __init__(self) -> None:
        self.nodes: list[NodeHealth] = []
        self.error: Exception | None = None
        self.asked: list[tuple[str, dict[str, str]]] = []

    def __call__(self, pool: str, labels: Mapping[str, str]) -> list[NodeHealth]:
        self.asked.append((pool, dict(labels)))
        if self.error is not None:
            raise self.error
        return self.nodes


def _node(name: str, *, ready: bool = True, cordoned: bool = False, bad: frozenset[int] = frozenset()) -> NodeHealth:
    return NodeHealth(name, "gpu", ready, cordoned, 8, bad)


def test_unusable_capacity_is_lost_and_replaced_and_the_query_adds_bad_gpus() -> None:
    nodes, metrics = Nodes(), ServiceMetrics(CollectorRegistry())
    watch = HealthWatch(CONFIG, nodes, lambda now: {"n1": frozenset({0, 1})}, metrics)
    nodes.nodes = [_node("n1"), _node("n2", ready=False), _node("n3", cordoned=True), _node("n4", bad=frozenset({7}))]
    watch.read(1000.0)
    assert nodes.asked == [("gpu", {"pool": "gpu"})]  # only the watched pool, by its labels
    assert watch.lost() == {"gpu": 2 + 8 + 8 + 1}
    assert watch.replacement_nodes() == {"gpu": 3}  # ceil(19 / 8)
    assert metrics.registry.get_sample_value("forecastscale_gpus_excluded", {"pool": "gpu"}) == 19


def test_a_repeat_offender_stays_excluded_until_healthy_for_the_quarantine() -> None:
    nodes = Nodes()
    watch = HealthWatch(CONFIG, nodes, None, ServiceMetrics(CollectorRegistry()))
    for t, bad in ((0, {3}), (60, set()), (120, {3}), (180, set()), (700, set()), (800, set())):
        nodes.nodes = [_node("n1", bad=frozenset(bad))]
        watch.read(float(t))
        if t == 700:
            assert watch.lost() == {"gpu": 1}  # healthy since 180: 520 s < 600 s quarantine
    assert watch.lost() == {"gpu": 0}  # 620 s healthy: released


def test_a_failed_node_list_keeps_the_last_capacity_and_is_counted() -> None:
    nodes, metrics = Nodes(), ServiceMetrics(CollectorRegistry())
    watch = HealthWatch(CONFIG, nodes, None, metrics)
    nodes.nodes = [_node("n1", ready=False)]
    watch.read(0.0)
    nodes.error = TemporaryError("apiserver down")
    watch.read(60.0)
    assert watch.lost() == {"gpu": 8}
    assert sum(s.value for m in metrics.registry.collect() if m.name == "forecastscale_errors"
               for s in m.samples if s.name.endswith("_total")) == 1


def test_a_gpu_index_the_node_lacks_is_ignored_and_counted_and_the_rest_is_used() -> None:
    nodes, metrics = Nodes(), ServiceMetrics(CollectorRegistry())
    watch = HealthWatch(CONFIG, nodes, lambda now: {"n1": frozenset({2, 8, 99})}, metrics)  # n1 has GPUs 0-7
    nodes.nodes = [_node("n1")]
    watch.read(0.0)
    assert watch.lost() == {"gpu": 1}  # GPU 2 counted; 8 and 99 do not exist there
    assert metrics.registry.get_sample_value("forecastscale_errors_total", {"kind": "gpu_health_query"}) == 1


def test_an_unexpected_error_keeps_the_last_capacity_and_is_counted_as_internal() -> None:
    nodes, metrics = Nodes(), ServiceMetrics(CollectorRegistry())
    watch = HealthWatch(CONFIG, nodes, None, metrics)
    nodes.nodes = [_node("n1", ready=False)]
    watch.read(0.0)
    nodes.error = KeyError("status")  # a malformed Node the lister did not expect
    watch.read(60.0)
    assert watch.lost() == {"gpu": 8}
    assert metrics.registry.get_sample_value("forecastscale_errors_total", {"kind": "internal"}) == 1
