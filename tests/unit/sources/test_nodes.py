"""``V1Node`` → :class:`NodeHealth` (the node conventions) and the paging of :class:`NodeLister`, without a server."""

from __future__ import annotations

from typing import Any

import pytest
import urllib3.exceptions
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from forecastscale.errors import TemporaryError
from forecastscale.kube.errors import Forbidden, Rejected, Unavailable
from forecastscale.sources.kube_nodes import ANNOTATION, MAX_PAGES, NodeLister, node_health
from forecastscale.types import NodeHealth


def v1node(name: str = "n", *, ready: str | None = "True", unschedulable: bool | None = None, gpus: str | None = "8",
           annotations: dict[str, str] | None = None, conditions: dict[str, str] | None = None) -> client.V1Node:
    """A node as the API returns it; ``ready`` None: no Ready condition; ``gpus`` None: no GPU resource."""
    conds = [] if ready is None else [client.V1NodeCondition(type="Ready", status=ready)]
    conds += [client.V1NodeCondition(type=t, status=s) for t, s in (conditions or {}).items()]
    allocatable = {"cpu": "96"} | ({} if gpus is None else {"nvidia.com/gpu": gpus})
    return client.V1Node(metadata=client.V1ObjectMeta(name=name, annotations=annotations),
                         spec=client.V1NodeSpec(unschedulable=unschedulable),
                         status=client.V1NodeStatus(conditions=conds, allocatable=allocatable))


def test_a_healthy_node_has_all_its_gpus() -> None:
    assert node_health(v1node("gpu-1"), "h100") == NodeHealth("gpu-1", "h100", True, False, 8)


@pytest.mark.parametrize("ready", ["False", "Unknown", None], ids=["false", "unknown", "no-condition"])
def test_ready_only_when_the_ready_condition_is_true(ready: str | None) -> None:
    assert not node_health(v1node(ready=ready), "p").ready


def test_unschedulable_is_cordoned() -> None:
    assert node_health(v1node(unschedulable=True), "p").cordoned
    assert not node_health(v1node(unschedulable=False), "p").cordoned


def test_a_node_without_the_gpu_resource_has_none() -> None:
    assert node_health(v1node(gpus=None), "p").gpus == 0


def test_a_node_without_status_or_spec_is_not_ready_with_no_gpus() -> None:
    bare = client.V1Node(metadata=client.V1ObjectMeta(name="new"))
    assert node_health(bare, "p") == NodeHealth("new", "p", False, False, 0)


@pytest.mark.parametrize(("text", "bad"), [
    ("0,3", {0, 3}), (" 1 , 6 ", {1, 6}), ("2,2", {2}), ("", set()),
    ("7,8,12", {7}),  # indices beyond the node's GPUs are ignored
    ("gpu0,-1,x,5", {5}),  # entries that are not indices are ignored
], ids=["plain", "spaces", "repeated", "empty", "out-of-range", "junk"])
def test_the_annotation_lists_unhealthy_gpu_indices(text: str, bad: set[int]) -> None:
    assert node_health(v1node(annotations={ANNOTATION: text}), "p").unhealthy_gpus == bad


@pytest.mark.parametrize("condition", ["GpuUnhealthy", "XidError"])
def test_a_true_gpu_condition_without_the_annotation_makes_every_gpu_unhealthy(condition: str) -> None:
    assert node_health(v1node(gpus="4", conditions={condition: "True"}), "p").unhealthy_gpus == {0, 1, 2, 3}
    assert node_health(v1node(gpus="4", conditions={condition: "False"}), "p").unhealthy_gpus == set()


def test_the_annotation_names_which_gpus_a_true_condition_means() -> None:
    node = v1node(annotations={ANNOTATION: "2"}, conditions={"XidError": "True"})
    assert node_health(node, "p").unhealthy_gpus == {2}


def test_an_empty_annotation_does_not_hide_a_true_condition() -> None:
    node = v1node(gpus="2", annotations={ANNOTATION: ""}, conditions={"GpuUnhealthy": "True"})
    assert node_health(node, "p").unhealthy_gpus == {0, 1}


def test_a_non_ascii_digit_in_the_annotation_is_ignored() -> None:
    assert node_health(v1node(annotations={ANNOTATION: "1,²"}), "p").unhealthy_gpus == {1}


class FakeCore:
    """``CoreV1Api.list_node`` over ``pages`` (lists of node names); records every call's arguments."""

    def __init__(self, pages: list[list[str]], *, endless: bool = False, error: Exception | None = None) -> None:
        self.pages, self.endless, self.error = pages, endless, error
        self.calls: list[dict[str, Any]] = []

    def list_node(self, **kwargs: Any) -> client.V1NodeList:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        i = int(kwargs.get("_continue") or 0)
        more = self.endless or i + 1 < len(self.pages)
        names = self.pages[min(i, len(self.pages) - 1)]
        return client.V1NodeList(items=[v1node(n) for n in names],
                                 metadata=client.V1ListMeta(_continue=str(i + 1) if more else None))


def lister(core: FakeCore, **kwargs: Any) -> NodeLister:
    return NodeLister(core, **kwargs)  # type: ignore[arg-type]  # duck-typed CoreV1Api


def test_pages_are_followed_with_the_same_selector_limit_and_timeout() -> None:
    core = FakeCore([["a", "b"], ["c", "d"], ["e"]])
    nodes = lister(core, page_size=2, request_timeout_s=3.5).list_pool_nodes("h100", {"zone": "z1", "pool": "h100"})
    assert [n.node for n in nodes] == ["a", "b", "c", "d", "e"] and {n.pool for n in nodes} == {"h100"}
    assert [c.get("_continue") for c in core.calls] == [None, "1", "2"]
    assert {(c["label_selector"], c["limit"], c["_request_timeout"]) for c in core.calls} == {
        ("pool=h100,zone=z1", 2, 3.5)}


def test_paging_is_bounded_when_the_server_never_stops_sending_a_token() -> None:
    core = FakeCore([["a"]], endless=True)
    with pytest.raises(TemporaryError, match="list not finished"):  # a partial pool would look smaller
        lister(core).list_pool_nodes("p", {"pool": "p"})
    assert len(core.calls) == MAX_PAGES


@pytest.mark.parametrize(("error", "typed"), [
    (ApiException(status=403, reason="Forbidden"), Forbidden),
    (ApiException(status=410, reason="Gone"), Rejected),  # an expired continue token
    (ApiException(status=503, reason="Service Unavailable"), Unavailable),
    (urllib3.exceptions.MaxRetryError(None, "/api/v1/nodes", "refused"), Unavailable),  # type: ignore[arg-type]
], ids=["403", "410", "503", "no-response"])
def test_api_failures_are_typed_errors_naming_the_pool(error: Exception, typed: type[Exception]) -> None:
    with pytest.raises(typed, match="nodes of pool h100") as caught:
        lister(FakeCore([], error=error)).list_pool_nodes("h100", {"pool": "h100"})
    assert caught.value.__cause__ is error
