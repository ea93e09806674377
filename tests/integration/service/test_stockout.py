"""A stockout live: the H100 MachineDeployment never gets its nodes — the pool is marked stocked out, its request is
withdrawn, the shortfall runs on the A100 alternative (its own Deployment, twice the pods), and it comes back when
the H100 pool delivers again (real Prometheus; the official client against the API-server double; simulated clock).

As in a real GPU stockout, the double's Cluster API makes the Machines at once (``status.replicas`` follows
``spec.replicas``, so the scale subresource looks delivered), but their Nodes never become Ready:
``status.readyReplicas`` stays at the one Ready node until the test says the nodes came (:func:`_deliver`).
The service must see the machines as starting, not ready, to detect the stockout.
"""

from __future__ import annotations

import math

from kubernetes import client

from tests.integration.conftest import PrometheusServer
from tests.integration.kube.apiserver import ScaleApiDouble
from tests.integration.service.helpers import TICK_S, chat_target, service_config
from tests.integration.service.test_faults import Clock, build, sample

FAST_UP = {"scale_up": {"stabilization_window_seconds": 0,
                        "policies": [{"type": "Pods", "value": 100, "period_seconds": 15}]}}
NODE_STARTUP_S = 60  # × stockout_factor 3: stocked out after 180 s without a node
MAX_TICKS = 12  # every loop below is bounded


def _spec(kube: ScaleApiDouble, plural: str, name: str) -> int:
    return int(kube.stored(plural, "default", name)["spec"]["replicas"])


def _deliver(kube: ScaleApiDouble, plural: str, name: str) -> None:
    """Everything ``name`` asked for is there: a MachineDeployment's machines all have Ready nodes
    (``status.readyReplicas`` = ``spec.replicas``); a Deployment's ``status.replicas`` = ``spec.replicas``."""
    if plural == "machinedeployments":
        kube.set_ready("default", name, _spec(kube, plural, name))
    else:
        kube.add(plural, "default", name, replicas=_spec(kube, plural, name),
                 status_replicas=_spec(kube, plural, name))


def _machines(kube: ScaleApiDouble, name: str) -> tuple[int, int]:
    """``(status.replicas, status.readyReplicas)`` of MachineDeployment ``name``: machines, and Ready nodes."""
    status = kube.stored("machinedeployments", "default", name)["status"]
    return status["replicas"], status.get("readyReplicas", 0)


def _config() -> dict[str, object]:
    target = chat_target(workload={"capacity_per_replica": 0.15,
                                   "alternatives": [{"pool": "a100", "capacity_per_replica": 0.075}]},
                         scaling={"behavior": FAST_UP}, scheduling={"node_pool": "h100",
                                                                    "node_selector": {"accelerator": "h100"}})
    data = service_config([target], policy="reactive")
    data["node_pools"] = [
        {"name": "h100", "gpus_per_node": 8, "max_nodes": 10, "node_startup_s": NODE_STARTUP_S, "stockout_factor": 3,
         "labels": {"accelerator": "h100"}, "machine_deployment": {"name": "h100-md"}},
        {"name": "a100", "gpus_per_node": 8, "max_nodes": 10, "labels": {"accelerator": "a100"},
         "machine_deployment": {"name": "a100-md"}},
    ]
    return data


def test_a_pool_that_never_gets_its_nodes_is_stocked_out_and_its_overflow_runs_on_the_alternative_until_it_delivers(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    kube.add("deployments", "default", "chat", replicas=2)
    kube.add("deployments", "default", "chat-a100", replicas=0)
    kube.add("machinedeployments", "default", "h100-md", replicas=1)  # one Ready node: 8 GPUs
    kube.add("machinedeployments", "default", "a100-md", replicas=0)
    clock = Clock(prometheus.end.timestamp() - 3 * 3600)
    service = build(_config(), prometheus.url, api_client, clock)
    try:
        first = service.tick()
        assert _spec(kube, "machinedeployments", "h100-md") > 1  # asked for: never comes
        assert _machines(kube, "h100-md") == (_spec(kube, "machinedeployments", "h100-md"), 1)  # machines, no nodes
        stocked_at = None
        for _ in range(MAX_TICKS):
            clock.advance(TICK_S)
            report = service.tick()
            _deliver(kube, "machinedeployments", "a100-md")  # the A100 pool has nodes
            if sample(service, "forecastscale_pool_stocked_out", pool="h100") == 1:
                stocked_at = report
                break
        assert stocked_at is not None, "never marked stocked out"
        assert clock.now - first.at >= 3 * NODE_STARTUP_S  # not before the request waited factor × lead
        decision = stocked_at.targets[0].decision
        assert decision is not None and "stockout" in decision.reason.split("/")
        # chat keeps its replicas: 8 run on the one Ready H100 node, the rest wait (no node asked for them)
        assert _spec(kube, "deployments", "chat") == decision.replicas > 8
        spilled = _spec(kube, "deployments", "chat-a100")
        assert spilled == 2 * (decision.replicas - 8)  # the H100 shortfall in A100 replicas: twice the pods
        assert sample(service, "forecastscale_alternative_replicas", target="chat", pool="a100") == spilled
        assert _spec(kube, "machinedeployments", "h100-md") == 2  # withdrawn: the Ready node and one probe
        assert _machines(kube, "h100-md") == (2, 1)  # the probe's machine exists; its node is not Ready
        assert _spec(kube, "machinedeployments", "a100-md") == math.ceil(spilled / 8)

        _deliver(kube, "machinedeployments", "h100-md")  # the probe node arrives: H100 delivers again
        clock.advance(TICK_S)
        recovered = service.tick()
        decision = recovered.targets[0].decision
        assert sample(service, "forecastscale_pool_stocked_out", pool="h100") == 0
        assert decision is not None and "stockout" not in decision.reason
        assert _spec(kube, "machinedeployments", "h100-md") > 2  # asked for again
        assert _spec(kube, "deployments", "chat-a100") > 0  # no cliff: the A100 pods stay until H100 pods are Ready
        standby = build(_config(), prometheus.url, api_client, clock)  # a failover: no memory of the spill
        try:
            clock.advance(TICK_S)
            standby.tick()
        finally:
            standby.close()
        assert _spec(kube, "deployments", "chat-a100") > 0  # read back from the Deployment, not dropped to 0

        for _ in range(MAX_TICKS):  # H100 nodes and pods come up: the A100 replicas move back
            _deliver(kube, "machinedeployments", "h100-md")
            _deliver(kube, "deployments", "chat")
            clock.advance(TICK_S)
            service.tick()
            if _spec(kube, "deployments", "chat-a100") == 0:
                break
        assert _spec(kube, "deployments", "chat-a100") == 0
        assert sample(service, "forecastscale_alternative_replicas", target="chat", pool="a100") == 0
    finally:
        service.close()
