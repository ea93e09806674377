"""The live loop's part in stockouts: the gauge and one log line per change, alternatives seeded from their
workloads after a failover, alternatives written only when leading."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from forecastscale.actuators.base import ApplyResult, Fence, Outcome, ScaleState
from forecastscale.config import Config, parse_config
from forecastscale.kube.errors import Forbidden
from forecastscale.policy.fleet import FleetDecision, FleetState, PoolMemory
from forecastscale.policy.stockout import Supply
from forecastscale.service.metrics import ServiceMetrics
from forecastscale.service.spill import apply_alternatives, report_stockouts, seed_spilled


def _config() -> Config:
    return parse_config({"targets": [{"name": "chat", "workload": {"capacity_per_replica": 1, "alternatives": [
        {"pool": "a100", "capacity_per_replica": 0.5}]}, "scheduling": {"node_pool": "h100"},
        "scaling": {"max_replicas": 10}}], "node_pools": [{"name": "h100", "gpus_per_node": 8, "max_nodes": 4},
                                                          {"name": "a100", "gpus_per_node": 8, "max_nodes": 4}]})


class _Workload:
    def __init__(self, replicas: int, fail: bool = False) -> None:
        self.replicas, self.fail, self.writes = replicas, fail, 0

    @property
    def target(self) -> str:
        return "Deployment default/chat-a100"

    def current(self) -> ScaleState:
        if self.fail:
            raise Forbidden("forbidden", target=self.target, status=403)
        return ScaleState(self.replicas, self.replicas, "1")

    def apply(self, replicas: int, fence: Fence | None = None) -> ApplyResult:
        before, self.replicas, self.writes = self.replicas, replicas, self.writes + 1
        return ApplyResult(Outcome.PATCHED if before != replicas else Outcome.UNCHANGED, before, replicas, 1, "2")


def _fleet(stocked: dict[str, float], spilled: dict[str, int]) -> FleetDecision:
    return FleetDecision({}, {}, {}, {}, alternatives=spilled, stocked_out=stocked)


@pytest.mark.parametrize(("was", "now", "gauge", "logged"), [
    (False, False, 0, None), (False, True, 1, "stocked out"), (True, True, 1, None), (True, False, 0, "delivers again"),
], ids=["never", "begins-warns-once", "continues-silently", "ends"])
def test_the_gauge_and_one_line_per_change(was: bool, now: bool, gauge: int, logged: str | None,
                                           caplog: pytest.LogCaptureFixture) -> None:
    metrics = ServiceMetrics(CollectorRegistry())
    before = FleetState({"h100": PoolMemory(supply=Supply(1, 0.0, 10.0 if was else None))})
    with caplog.at_level(logging.INFO, logger="forecastscale.service"):
        report_stockouts(_config(), before, _fleet({"h100": 10.0} if now else {}, {}), metrics)
    assert metrics.registry.get_sample_value("forecastscale_pool_stocked_out", {"pool": "h100"}) == gauge
    assert [r.getMessage() for r in caplog.records if logged is None or logged in r.getMessage()] == \
        [r.getMessage() for r in caplog.records]
    assert len(caplog.records) == (0 if logged is None else 1)


@pytest.mark.parametrize(("memory", "workload", "seeded"), [
    ({}, _Workload(12), {"chat@a100": 12}),
    ({"chat@a100": 3}, _Workload(12), {"chat@a100": 3}),
    ({}, _Workload(12, fail=True), {}),
], ids=["failover-reads-the-workload", "memory-wins", "unreadable-left-out"])
def test_alternatives_are_seeded_from_their_workloads_only_without_memory(memory: dict[str, int],
                                                                          workload: _Workload,
                                                                          seeded: dict[str, int]) -> None:
    state = seed_spilled(_config(), FleetState(spilled=memory), {"chat@a100": workload})
    assert dict(state.spilled) == seeded


@pytest.mark.parametrize(("may_patch", "action", "replicas"), [(True, "patched", 8), (False, "standby", 0)],
                         ids=["leader-writes", "standby-does-not"])
def test_alternatives_are_written_when_leading(may_patch: bool, action: str, replicas: int) -> None:
    metrics, workload = ServiceMetrics(CollectorRegistry()), _Workload(0)
    out = apply_alternatives(_config(), _fleet({}, {"chat@a100": 8}), {"chat@a100": workload}, may_patch, metrics)
    assert [o.action for o in out] == [action] and workload.replicas == replicas
    assert metrics.registry.get_sample_value("forecastscale_alternative_replicas",
                                             {"target": "chat", "pool": "a100"}) == 8
