"""Reading a pool's nodes and their health with the official client against the API-server double."""

from __future__ import annotations

import pytest
from kubernetes import client

from forecastscale.kube.errors import Forbidden
from forecastscale.sources.kube_nodes import NodeLister
from tests.integration.kube.apiserver import Fault, ScaleApiDouble

POOL = {"pool": "h100"}


def test_the_pool_s_nodes_are_listed_by_label_with_their_health(kube: ScaleApiDouble,
                                                                api_client: client.ApiClient) -> None:
    kube.add_node("a", POOL)
    kube.add_node("b", POOL, ready=False)
    kube.add_node("c", POOL, unschedulable=True)
    kube.add_node("d", POOL, annotations={"forecastscale.io/unhealthy-gpus": "1, 6"})
    kube.add_node("e", POOL, gpus=4, conditions={"GpuUnhealthy": "True"})
    kube.add_node("other", {"pool": "a100"})
    got = {n.node: n for n in NodeLister(api_client).list_pool_nodes("h100", POOL)}
    assert sorted(got) == ["a", "b", "c", "d", "e"]
    assert (got["a"].ready, got["a"].cordoned, got["a"].gpus, got["a"].unhealthy_gpus) == (True, False, 8, frozenset())
    assert not got["b"].ready and got["c"].cordoned
    assert got["d"].unhealthy_gpus == {1, 6} and got["e"].unhealthy_gpus == {0, 1, 2, 3}
    assert all(n.pool == "h100" for n in got.values())


def test_a_large_pool_is_read_page_by_page(kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    for i in range(5):
        kube.add_node(f"n{i}", POOL)
    nodes = NodeLister(api_client, page_size=2).list_pool_nodes("h100", POOL)
    assert [n.node for n in nodes] == [f"n{i}" for i in range(5)]
    assert kube.count("GET", "nodes") == 3  # 2 + 2 + 1


def test_no_permission_to_list_nodes_is_the_permanent_forbidden_error(kube: ScaleApiDouble,
                                                                      api_client: client.ApiClient) -> None:
    kube.fail(Fault(status=403, method="GET", resource="nodes"))
    with pytest.raises(Forbidden, match="nodes of pool h100"):
        NodeLister(api_client).list_pool_nodes("h100", POOL)


def test_every_label_of_the_pool_must_match(kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    kube.add_node("z1-a", {"pool": "h100", "zone": "z1"})
    kube.add_node("z1-b", {"pool": "h100", "zone": "z1", "rack": "7"})
    kube.add_node("z2-a", {"pool": "h100", "zone": "z2"})
    kube.add_node("unlabelled", {})
    nodes = NodeLister(api_client).list_pool_nodes("h100-z1", {"zone": "z1", "pool": "h100"})
    assert [n.node for n in nodes] == ["z1-a", "z1-b"]
    assert kube.count("GET", "nodes") == 1


def test_the_double_serves_one_node_and_its_list_as_the_real_server(kube: ScaleApiDouble,
                                                                  api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    kube.add_node("a", POOL, gpus=4, annotations={"forecastscale.io/unhealthy-gpus": "2"})
    kube.add_node("b", POOL)
    node = core.read_node("a")
    assert node.status.allocatable["nvidia.com/gpu"] == "4" and node.metadata.resource_version
    with pytest.raises(client.ApiException) as missing:
        core.read_node("nope")
    assert missing.value.status == 404
    first = core.list_node(label_selector="pool==h100", limit=1)
    assert [n.metadata.name for n in first.items] == ["a"] and first.metadata._continue
    rest = core.list_node(label_selector="pool==h100", limit=1, _continue=first.metadata._continue)
    assert [n.metadata.name for n in rest.items] == ["b"] and not rest.metadata._continue
    assert int(rest.metadata.resource_version) > 0
    with pytest.raises(client.ApiException) as unsupported:
        core.list_node(label_selector="pool!=h100")
    assert unsupported.value.status == 400
