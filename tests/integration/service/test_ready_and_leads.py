"""Ready replicas and learned lead times live: a real Prometheus holding kube-state-metrics' ready count, the official
client against the API-server double, the service ticking on a simulated clock (never the wall clock).

* The ready count lags the written one: while the new pods start, the observation has them starting (not ready),
  the HPA floor holds the written count (the unready pods cover it, as in the backtest), and the ready capacity and
  under-provisioning exported are the true ones.
* Scale-ups whose readiness arrives 300 s after the write: after ``min_samples`` of them the pod lead planned over
  moves from the 180 s prior to 300 s; a new leader reads the measurements back from the plan.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from forecastscale.devtools.prometheus import Family, LocalPrometheus, Series, write_families
from forecastscale.policy.base import PolicyHistory
from forecastscale.policy.reactive import ReactivePolicy
from forecastscale.service.core import Service
from forecastscale.types import Observation
from tests.integration.conftest import HISTORY_END, METRIC, running
from tests.integration.kube.apiserver import ScaleApiDouble
from tests.integration.service.helpers import TICK_S, chat_target, service_config
from tests.integration.service.test_faults import Clock, build, replicas, sample

READY = "kube_deployment_status_replicas_ready"
END = int(HISTORY_END.timestamp()) // TICK_S * TICK_S
T0 = END - 6 * 3600  # the first tick; the ready series is laid out in minutes from here
ROUND = 10  # minutes between the lead test's scale-ups
FAST_UP = {"scale_up": {"stabilization_window_seconds": 0,
                        "policies": [{"type": "Pods", "value": 100, "period_seconds": 15}]}}


def _ready_at(minute: int) -> float:
    """Ready pods ``minute`` minutes after T0: 2 before T0 and until +5 (the lag test); in the lead test's rounds
    0 for the first 4 minutes after each round's write and 100 (all of them) from +5 on."""
    if minute < 0:
        return 2.0
    return 0.0 if 1 <= minute % ROUND <= 4 else 100.0


@pytest.fixture
def lagging_prometheus(tmp_path: Path) -> Iterator[str]:
    """Two days of a steady 80/s for ``chat``, and its Deployment's ready count as :func:`_ready_at` lays out."""
    start = END - 2 * 86400
    n = 2 * 86400 // TICK_S + 1
    demand = Series({"target": "chat"}, start, TICK_S, [80.0] * n)
    ready = Series({"namespace": "default", "deployment": "chat"}, start, TICK_S,
                   [_ready_at((start + i * TICK_S - T0) // TICK_S) for i in range(n)])
    write_families(tmp_path / "h.om", [Family(METRIC, [demand]), Family(READY, [ready])])
    with running(LocalPrometheus(tmp_path, tmp_path / "h.om", lookback_delta="30s")) as server:
        yield server.url


def _service(url: str, api: client.ApiClient, policy: str, clock: Clock, **target: Any) -> Service:
    forecast = {"window_s": 86400, "model": "seasonal_naive", "season_s": 3600}  # flat demand: any season will do
    data = service_config([chat_target(scaling={"behavior": FAST_UP}, forecast=forecast, **target)], policy=policy)
    return build(data, url, api, clock)


def test_ready_replicas_lag_the_written_count_and_the_floor_holds(
        lagging_prometheus: str, kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    kube.add("deployments", "default", "chat", replicas=2)
    clock = Clock(T0)
    service = _service(lagging_prometheus, api_client, "reactive", clock)
    try:
        first = service.tick()  # 80/s at 8 per replica and 70 %: 15 replicas, written at once
        written = replicas(kube)
        clock.advance(TICK_S)
        lagging = service.tick()  # Prometheus: 0 of them Ready yet
        capacity, under = (sample(service, "forecastscale_ready_capacity", target="chat"),
                           sample(service, "forecastscale_underprovisioned", target="chat"))
        clock.advance(4 * TICK_S)
        ready = service.tick()  # all Ready
    finally:
        service.close()
    assert first.targets[0].action == "patched" and written == 15
    decision = lagging.targets[0].decision
    assert decision is not None and decision.replicas == written and replicas(kube) == written  # the floor holds
    # The backtest's view of the same moment (0 ready, 15 starting) decides the same.
    backtest_view = Observation(t=clock.now, step_s=TICK_S, demand_history=[80.0] * 10,  # type: ignore[arg-type]
                                current_replicas=15, ready_replicas=0, starting_replicas=15)
    target = service.config.targets[0]
    assert ReactivePolicy(target).decide(backtest_view, PolicyHistory())[0].replicas == decision.replicas
    assert (capacity, under) == (0.0, 1.0)  # the truth, not 15 × 8 counted from the scale subresource
    assert ready.targets[0].decision is not None and ready.targets[0].decision.replicas == 15
    assert sample(service, "forecastscale_ready_capacity", target="chat") == 15 * 8


def test_readiness_300_s_late_moves_the_pod_horizon_from_the_prior_to_300_s(
        lagging_prometheus: str, kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    clock = Clock(T0)
    service = _service(lagging_prometheus, api_client, "predictive", clock,
                       workload={"pod_startup_s": 180, "lead": {"learn": True, "min_samples": 3}})
    horizons = []
    try:
        for _ in range(4):  # bounded: four rounds of ROUND minutes
            kube.add("deployments", "default", "chat", replicas=2)  # down again: the round's scale-up is a write
            for minute in range(ROUND):
                report = service.tick()
                if minute == 0:
                    decision = report.targets[0].decision
                    assert decision is not None and report.targets[0].action == "patched"
                    horizons.append(min(decision.forecast))
                clock.advance(TICK_S)
    finally:
        service.close()
    assert horizons == [180.0, 180.0, 180.0, 300.0]  # the prior until three leads of 300 s were measured
    assert service.fleet.leads.measured("pod", "chat") == (300.0,) * 4
    assert sample(service, "forecastscale_lead_seconds", target="chat", pool="", quantile="planned") == 300.0
    assert sample(service, "forecastscale_lead_seconds", target="chat", pool="", quantile="0.9") == 300.0
    # A failover keeps them: a new leader reads the plan the first one saved and plans over 300 s at once.
    kube.add("deployments", "default", "chat", replicas=2)
    successor = _service(lagging_prometheus, api_client, "predictive", clock,
                         workload={"pod_startup_s": 180, "lead": {"learn": True, "min_samples": 3}})
    try:
        report = successor.tick()
    finally:
        successor.close()
    decision = report.targets[0].decision
    assert successor.fleet.leads.measured("pod", "chat") == (300.0,) * 4
    assert decision is not None and min(decision.forecast) == 300.0
