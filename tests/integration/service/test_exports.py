"""What one service exports and sizes besides replicas: dropped samples, side queries, forecasts
and their rolling error, and the node pool's MachineDeployment."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from kubernetes import client

from tests.integration.conftest import GAPPY, METRIC, PrometheusServer
from tests.integration.kube.apiserver import ScaleApiDouble
from tests.integration.service.helpers import TICK_S, chat_target, service_config
from tests.integration.service.test_faults import Clock, build, sample


def test_unusable_samples_are_dropped_counted_and_never_reach_the_policy(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    kube.add("deployments", "default", "gappy", replicas=1)
    target = chat_target(name="gappy", forecast={"window_s": 3600},
                         workload={"kind": "Deployment", "name": "gappy", "namespace": "default"})
    data = service_config([target], policy="reactive")
    clock = Clock(prometheus.start.timestamp() + max(GAPPY) * TICK_S)  # at the last sample
    service = build(data, prometheus.url, api_client, clock)
    report = service.tick()
    assert report.targets[0].status == "ok"
    assert sample(service, "forecastscale_samples_dropped_total", target="gappy", reason="negative") == 1
    runner = service.runners[0]
    history = runner.samples.values
    written_at = {int(runner.samples.offset + i) for i in np.flatnonzero(~np.isnan(history))}
    first = int(prometheus.start.timestamp()) // TICK_S - 1  # step k holds the sample at (k+1)·tick
    usable = {first + i for i, v in GAPPY.items() if v not in ("NaN", "-5")}
    assert written_at == usable  # the gap, the NaN and the negative are holes, not values
    offset, values = runner.samples.filled()
    assert offset == first and np.isfinite(values).all() and (values >= 0).all()
    service.close()


def _chat_with_pool(kube: ScaleApiDouble, **extra: Any) -> dict[str, Any]:
    kube.add("deployments", "default", "chat", replicas=2)
    kube.add("machinedeployments", "default", "gpu-md", replicas=1)
    data = service_config([chat_target(queries={"queue": f'{METRIC}{{target="batch"}}'}, **extra)])
    data["node_pools"][0]["machine_deployment"] = {"name": "gpu-md", "namespace": "default"}
    data["node_pools"][0]["gpus_per_node"] = 2
    return data


def _evening(prom: PrometheusServer) -> Clock:
    """The last 13:00 UTC in the history (demand near its daily high)."""
    at = prom.end.replace(hour=13, minute=0, second=0, microsecond=0).timestamp()
    return Clock(at if at <= prom.end.timestamp() else at - 86400)


def test_forecasts_their_error_side_queries_and_the_node_pool_are_exported_and_applied(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    clock = _evening(prometheus)
    service = build(_chat_with_pool(kube), prometheus.url, api_client, clock)
    report = service.tick()
    decision = report.targets[0].decision
    assert decision is not None and report.pools[0].action == "patched"
    md = kube.stored("machinedeployments", "default", "gpu-md")["spec"]["replicas"]
    # 1 GPU per pod, 2 per node: the pods planned over the node lead, two to a node
    assert md == report.pools[0].desired == math.ceil(decision.planned / 2) >= 2
    assert sample(service, "forecastscale_desired_nodes", pool="gpu") == md
    # the queue query is evaluated at the tick's step boundary, where the fixture wrote a sample
    batch_at = prometheus.written["batch"][int(clock.now - prometheus.start.timestamp()) // prometheus.step_s]
    assert sample(service, "forecastscale_queue", target="chat") == batch_at
    q50 = sample(service, "forecastscale_forecast", target="chat", horizon_s="180", quantile="0.5")
    q90 = sample(service, "forecastscale_forecast", target="chat", horizon_s="180", quantile="0.9")
    assert 0 < q50 <= q90
    assert sample(service, "forecastscale_desired_replicas", target="chat", source="forecast") == \
        decision.candidates["forecast"]
    for _ in range(4):  # past the 180-s pod lead: the first forecasts meet their actuals
        clock.advance(TICK_S)
        service.tick()
    ape = service.metrics.registry.get_sample_value("forecastscale_forecast_abs_pct_error", {"target": "chat"})
    assert ape is not None and 0 <= ape < 50 and not math.isnan(ape)
    service.close()
