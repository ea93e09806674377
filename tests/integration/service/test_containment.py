"""A tick never dies of one bad input: failures stay with the target or pool they concern, are counted by kind,
and show in ``/readyz``; a plan ConfigMap with hostile content pins nothing.

Real Prometheus (the session's backfilled history) and the official kubernetes client against the API-server
double. Where a part must misbehave in a way the cluster never would on purpose (an actuator raising an
unexpected ``RuntimeError``, a clock that fails once), a small stand-in takes that part's place; our own code is
never replaced.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

from forecastscale.actuators.base import ApplyResult, Fence, ScaleState
from forecastscale.service.core import Service
from forecastscale.service.readiness import readiness
from tests.integration.conftest import PrometheusServer
from tests.integration.kube.apiserver import ScaleApiDouble
from tests.integration.service.helpers import TICK_S, chat_target, service_config
from tests.integration.service.test_faults import Clock, build, replicas, sample


class Broken:
    """An actuator whose every call raises what no code path expects (a bug, a library surprise)."""

    target = "Deployment default/broken"

    def current(self) -> ScaleState:
        raise RuntimeError("unexpected: the scale came back as a list")

    def apply(self, replicas: int, fence: Fence | None = None) -> ApplyResult:
        raise RuntimeError("unexpected")


def _two_targets(kube: ScaleApiDouble) -> dict[str, Any]:
    kube.add("deployments", "default", "chat", replicas=1)
    kube.add("deployments", "default", "batch", replicas=1)
    targets = [chat_target(), chat_target(name="batch", workload={"kind": "Deployment", "name": "batch",
                                                                  "namespace": "default"})]
    return service_config(targets, policy="reactive", stale_after_ticks=2)


def test_one_target_that_raises_is_contained_counted_and_shown_in_readyz(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    clock = Clock(prometheus.end.timestamp() - 3600)
    service = build(_two_targets(kube), prometheus.url, api_client, clock)
    service.runners[1].actuator = Broken()
    try:
        reports = []
        for _ in range(3):  # one more than stale_after_ticks
            reports.append(service.tick())
            clock.advance(TICK_S)
    finally:
        service.close()
    chat, batch = reports[-1].targets
    first = reports[0].targets[0]
    assert first.action == "patched" and first.decision is not None  # the other target goes on
    assert chat.decision is not None and replicas(kube) == chat.decision.replicas > 1
    report = reports[-1]
    assert batch.status == "error"
    assert batch.error == "internal: RuntimeError: 'unexpected: the scale came back as a list'"
    assert report.error is None and not report.ok
    assert sample(service, "forecastscale_errors_total", kind="internal") == 3
    checks = readiness(service)
    assert checks["decisions"] is False and checks["decided:batch"] is False and "decided:chat" not in checks
    assert checks["ticks"] and checks["prometheus"] and checks["leadership"]


def test_a_failed_tick_is_counted_shown_and_the_next_one_runs(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    clock = Clock(prometheus.end.timestamp() - 3600)
    fails = [True]

    def flaky() -> float:
        if fails.pop() if fails else False:
            raise OSError("clock source unavailable")
        return clock()

    service = build(_two_targets(kube), prometheus.url, api_client, clock)
    service.clock = flaky
    try:
        failed = service.tick()
        checks_after_failure = readiness(service)
        ok = service.tick()
    finally:
        service.close()
    assert failed.error == "OSError: 'clock source unavailable'" and failed.targets == [] and not failed.ok
    assert checks_after_failure["ticks"] is False
    assert sample(service, "forecastscale_errors_total", kind="tick") == 1
    assert ok.error is None and all(o.decision is not None for o in ok.targets) and readiness(service)["ticks"]


def _plan(kube: ScaleApiDouble, now: float, entry: dict[str, Any]) -> None:
    plan = {"version": 2, "saved_at": now - 60, "targets": {"chat": entry}, "events": {
        "format": 2, "events": [], "deleted": []}}
    kube.add_object("configmaps", "default", "forecastscale-plan", {"data": {"plan.json": json.dumps(plan)}})


def test_a_plan_stamped_in_the_future_pins_nothing(prometheus: PrometheusServer, kube: ScaleApiDouble,
                                                   api_client: client.ApiClient) -> None:
    """Recommendations and scale events 600 s ahead (a skewed or forged plan) would hold the target at 3 for ten
    minutes (no scale-down below a recommendation in the window, no scale-up past the rate the events used up);
    they are dropped at the edge, counted, and the HPA decides."""
    clock = Clock(prometheus.end.timestamp() - 3600)
    kube.add("deployments", "default", "chat", replicas=3)
    control = build(service_config([chat_target()], policy="reactive", plan_configmap="no-plan"), prometheus.url,
                    api_client, clock)  # what the HPA wants here with no plan involved
    wanted = control.tick().targets[0].decision.replicas  # type: ignore[union-attr]
    control.close()
    kube.add("deployments", "default", "chat", replicas=3)
    _plan(kube, clock.now, {"recommendations": [[clock.now + 600, 3]], "events": [[clock.now + 600, 40]],
                            "last_replicas": 3})
    data = service_config([chat_target()], policy="reactive")
    service = build(data, prometheus.url, api_client, clock)
    try:
        report = service.tick()
    finally:
        service.close()
    assert wanted != 3 and report.targets[0].decision is not None
    assert replicas(kube) == report.targets[0].decision.replicas == wanted
    assert sample(service, "forecastscale_errors_total", kind="plan_invalid") == 1


def test_a_wrongly_typed_plan_entry_is_dropped_and_the_tick_decides(prometheus: PrometheusServer,
                                                                    kube: ScaleApiDouble,
                                                                    api_client: client.ApiClient) -> None:
    clock = Clock(prometheus.end.timestamp() - 3600)
    kube.add("deployments", "default", "chat", replicas=3)
    _plan(kube, clock.now, {"recommendations": [["x", 1]]})
    service = build(service_config([chat_target()], policy="reactive"), prometheus.url, api_client, clock)
    try:
        report = service.tick()
    finally:
        service.close()
    assert report.ok and report.targets[0].action == "patched"
    assert sample(service, "forecastscale_errors_total", kind="plan_invalid") == 1


def test_without_a_plan_store_a_service_is_never_fenced_for_its_own_dry_run(
        prometheus: PrometheusServer) -> None:
    """Dry-run without a cluster keeps no plan, so it has nothing to restore; it must still decide every tick."""
    from prometheus_client import CollectorRegistry

    from forecastscale.config import parse_config
    from forecastscale.service.wiring import build_service

    clock = Clock(prometheus.end.timestamp() - 3600)
    service: Service = build_service(parse_config(service_config([chat_target()])), prometheus_url=prometheus.url,
                                     api=None, dry_run=True, registry=CollectorRegistry(), identity="x", clock=clock)
    try:
        report = service.tick()
    finally:
        service.close()
    assert report.ok and report.targets[0].action == "dry-run"
