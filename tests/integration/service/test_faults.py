"""The live loop under faults: Prometheus gone and back, 409 storms, 429 Retry-After, 403.

Each test builds the service with the real wiring (Prometheus source, scale actuators, plan
ConfigMap) against a real Prometheus and the API-server double; only the clock is simulated,
so ticks land on known points of the backfilled history.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kubernetes import client
from prometheus_client import CollectorRegistry

from forecastscale.config import parse_config
from forecastscale.devtools.prometheus import LocalPrometheus, Series, write_openmetrics
from forecastscale.service.core import Service
from forecastscale.service.wiring import build_service
from tests.integration.conftest import HISTORY_END, METRIC, PrometheusServer, running
from tests.integration.kube.apiserver import Fault, ScaleApiDouble
from tests.integration.service.helpers import TICK_S, chat_target, service_config


class Clock:
    """Simulated seconds since the epoch, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def build(data: dict[str, Any], url: str, api: client.ApiClient, clock: Clock) -> Service:
    return build_service(parse_config(data), prometheus_url=url, api=api, dry_run=False,
                         registry=CollectorRegistry(), identity="solo", clock=clock, monotonic=clock)


def sample(service: Service, name: str, **labels: str) -> float:
    value = service.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def replicas(kube: ScaleApiDouble, name: str = "chat") -> int:
    return int(kube.stored("deployments", "default", name)["spec"]["replicas"])


# --- Prometheus stopped mid-run ------------------------------------------------------------------
@pytest.fixture
def own_prometheus(tmp_path: Path) -> Iterator[tuple[LocalPrometheus, int]]:
    """A Prometheus this test may stop and restart: two days of a steady 80/s, minute samples."""
    end = int(HISTORY_END.timestamp()) // TICK_S * TICK_S  # pinned, as all backfilled history
    start = end - 2 * 86400
    series = Series({"target": "chat"}, start, TICK_S, [80.0] * (2 * 86400 // TICK_S + 1))
    write_openmetrics(tmp_path / "h.om", METRIC, [series])
    with running(LocalPrometheus(tmp_path, tmp_path / "h.om", lookback_delta="30s")) as server:
        yield server, end


def test_prometheus_down_holds_then_falls_back_then_recovers(
        own_prometheus: tuple[LocalPrometheus, int], kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    server, end = own_prometheus
    kube.add("deployments", "default", "chat", replicas=20)
    data = service_config([chat_target(scaling={"fallback_replicas": 25}, forecast={"window_s": 86400})],
                          policy="reactive", fallback_after_ticks=3)
    clock = Clock(end - 3600)
    service = build(data, server.url, api_client, clock)
    first = service.tick()  # 80/s at 8 per replica and 70 %: 15 replicas
    assert first.targets[0].status == "ok" and replicas(kube) == 15
    port = int(server.url.rsplit(":", 1)[1])
    server.stop()
    held = []
    for _ in range(2):
        clock.advance(TICK_S)
        held.append(service.tick().targets[0])
    assert [o.action for o in held] == ["held", "held"] and replicas(kube) == 15  # nothing decided on no data
    assert sample(service, "forecastscale_degraded", target="chat") == 1
    assert sample(service, "forecastscale_errors_total", kind="prometheus") >= 2
    assert service.prometheus_ok is False
    clock.advance(TICK_S)
    fallback = service.tick().targets[0]  # the third failed tick: fallback_replicas applies, never down
    assert fallback.decision is not None and fallback.decision.reason == "fallback"
    assert replicas(kube) == 25
    server.start(port)
    clock.advance(10 * 60)  # back ten minutes later: the missed steps come back by range query
    recovered = service.tick().targets[0]
    assert recovered.status == "ok" and service.prometheus_ok is True
    assert sample(service, "forecastscale_degraded", target="chat") == 0
    runner = service.runners[0]
    newest = math.floor(clock.now / TICK_S) - 1
    assert runner.samples.end == newest + 1 and not np.isnan(runner.samples.values[-13:]).any()
    service.close()


# --- Kubernetes faults, on the shared backfilled Prometheus --------------------------------------
@pytest.fixture
def two_targets(kube: ScaleApiDouble) -> dict[str, Any]:
    kube.add("deployments", "default", "chat", replicas=1)
    kube.add("deployments", "default", "batch", replicas=1)
    batch = chat_target(name="batch", workload={"kind": "Deployment", "name": "batch", "namespace": "default",
                                                "capacity_per_replica": 2})
    return service_config([chat_target(), batch], policy="reactive")


def _noon(prom: PrometheusServer) -> Clock:
    at = prom.end.replace(hour=12, minute=0, second=0, microsecond=0)
    return Clock((at if at <= prom.end else at - timedelta(days=1)).timestamp())


def test_conflict_storm_gives_up_after_bounded_retries_and_the_next_tick_succeeds(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient,
        two_targets: dict[str, Any]) -> None:
    service = build(two_targets, prometheus.url, api_client, _noon(prometheus))
    kube.interfere(times=100)  # every PUT finds the object changed since its GET
    first = {o.target: o for o in service.tick().targets}
    stormed = [o for o in first.values() if o.action == "error"]
    assert stormed and all("409" in (o.error or "") for o in stormed)
    assert kube.count("PUT", "deployments") == 2 * 3  # two targets × three attempts, then give up
    assert sample(service, "forecastscale_errors_total", kind="kube_conflict") == 2
    kube.interfere(times=0)
    second = service.tick()
    assert {o.action for o in second.targets} == {"patched"}
    assert replicas(kube, "chat") > 1 and replicas(kube, "batch") > 1
    service.close()


def test_throttled_write_waits_retry_after_then_patches(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient,
        two_targets: dict[str, Any]) -> None:
    service = build(two_targets, prometheus.url, api_client, _noon(prometheus))
    kube.fail(Fault(429, method="PUT", times=1, retry_after_s=1))
    started = time.monotonic()
    report = service.tick()
    assert {o.action for o in report.targets} == {"patched"}
    assert time.monotonic() - started >= 1.0  # the Retry-After second was honoured
    assert kube.count("PUT", "deployments") == 3  # one refused, then one per target
    service.close()


def test_forbidden_on_one_target_is_reported_and_the_other_is_still_patched(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient,
        two_targets: dict[str, Any]) -> None:
    service = build(two_targets, prometheus.url, api_client, _noon(prometheus))
    kube.fail(Fault(403, method="PUT", times=1))
    report = service.tick()
    actions = sorted(o.action for o in report.targets)
    assert actions == ["error", "patched"] and not report.ok
    failed = next(o for o in report.targets if o.action == "error")
    assert "403" in (failed.error or "") and "forbidden" in (failed.error or "").lower()
    assert sample(service, "forecastscale_errors_total", kind="kube_forbidden") == 1
    service.close()
