"""A Cluster API pool's Ready nodes, live: the scale subresource's ``status.replicas`` counts Machines, which Cluster
API makes at once even when the cloud has no capacity, so the tick reads the MachineDeployment's
``status.readyReplicas`` for Ready nodes and counts the other machines as starting (what stockout detection watches).
Real Prometheus; the official client against the API-server double (whose Cluster API makes machines at once)."""

from __future__ import annotations

from kubernetes import client

from forecastscale.service.pools import PoolView, read_pools
from tests.integration.conftest import PrometheusServer
from tests.integration.kube.apiserver import ScaleApiDouble
from tests.integration.service.helpers import TICK_S, chat_target, service_config
from tests.integration.service.test_faults import Clock, build, sample


def test_machines_made_whose_nodes_are_not_ready_are_starting_not_ready(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    kube.add("deployments", "default", "chat", replicas=2)
    kube.add("machinedeployments", "default", "gpu-md", replicas=4, ready_replicas=1)  # 4 machines, 1 Ready node
    scale = kube.stored("machinedeployments", "default", "gpu-md")["status"]
    assert scale["replicas"] == 4  # what the scale subresource says: it would have read as 4 Ready nodes
    data = service_config([chat_target()], policy="reactive")
    data["node_pools"][0]["machine_deployment"] = {"name": "gpu-md", "namespace": "default"}
    clock = Clock(prometheus.end.timestamp() - 3600)
    service = build(data, prometheus.url, api_client, clock)
    try:
        assert read_pools(service.pool_actuators, service.metrics) == {"gpu": PoolView(ready=1, starting=3)}
        first = service.tick()
        supply = service.fleet.pools["gpu"].supply
        assert supply.ready == 1 and supply.waiting_since == first.at  # outstanding: the stockout clock runs
        assert first.pools[0].current == 4  # asked for: ready + starting
        spec = int(kube.stored("machinedeployments", "default", "gpu-md")["spec"]["replicas"])
        assert kube.stored("machinedeployments", "default", "gpu-md")["status"]["replicas"] == spec  # machines made

        kube.set_ready("default", "gpu-md", spec)  # every machine's node becomes Ready
        clock.advance(TICK_S)
        service.tick()
        supply = service.fleet.pools["gpu"].supply
        assert supply.ready == spec and supply.waiting_since is None and not supply.stocked_out
        assert sample(service, "forecastscale_pool_stocked_out", pool="gpu") == 0
    finally:
        service.close()
