"""Spill-over live: two eligible pools, the first one full — the overflow goes to the second pool, uncapped, and the
second pool is asked for exactly the nodes its pods need (real Prometheus; the official client against the
API-server double, MachineDeployments for both pools).

Before the fleet decision, arbitration capped each target at its own pool's GPUs first: with ``reactive`` the
second pool was never used (16 replicas, 0 nodes there); with ``predictive`` replicas were capped at 16 while the
node plan still packed the uncapped pods, so the second pool was asked for nodes no pod would use.
"""

from __future__ import annotations

import math

import pytest
from kubernetes import client

from tests.integration.conftest import PrometheusServer
from tests.integration.kube.apiserver import ScaleApiDouble
from tests.integration.service.helpers import chat_target, service_config
from tests.integration.service.test_faults import Clock, build, replicas

FAST_UP = {"scale_up": {"stabilization_window_seconds": 0,
                        "policies": [{"type": "Pods", "value": 100, "period_seconds": 15}]}}


def _md(kube: ScaleApiDouble, name: str) -> int:
    return int(kube.stored("machinedeployments", "default", name)["spec"]["replicas"])


@pytest.mark.parametrize("policy", ["reactive", "predictive"])
def test_the_overflow_of_a_full_pool_goes_to_the_next_eligible_pool_uncapped(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient, policy: str) -> None:
    kube.add("deployments", "default", "chat", replicas=2)
    for md in ("a100-md", "h100-md"):
        kube.add("machinedeployments", "default", md, replicas=1)
    # ~4/s an hour before the history's end: at 0.15/s per replica and 70 %, some 40 one-GPU pods
    data = service_config([chat_target(workload={"capacity_per_replica": 0.15}, scaling={"behavior": FAST_UP},
                                       scheduling={"node_pool": "a100"})],
                          policy=policy)
    data["node_pools"] = [
        {"name": "a100", "gpus_per_node": 8, "max_nodes": 2, "machine_deployment": {"name": "a100-md"}},
        {"name": "h100", "gpus_per_node": 8, "max_nodes": 10, "machine_deployment": {"name": "h100-md"}},
    ]
    service = build(data, prometheus.url, api_client, Clock(prometheus.end.timestamp() - 3600))
    try:
        report = service.tick()
    finally:
        service.close()
    decision = report.targets[0].decision
    assert decision is not None and "capped" not in decision.reason and decision.replicas > 16
    assert replicas(kube) == decision.replicas and "spilled" in decision.reason
    assert _md(kube, "a100-md") == 2  # full: 16 one-GPU pods
    assert _md(kube, "h100-md") == math.ceil((decision.planned - 16) / 8)  # exactly what the rest needs
