"""A Cluster API pool's Ready nodes: ``status.readyReplicas`` of the MachineDeployment (parsed at the edge), not the
scale's ``status.replicas`` (Machines, made at once even in a stockout); ``starting`` is the rest of the spec."""

from __future__ import annotations

from typing import Any

import pytest

from forecastscale.actuators.base import ScaleState
from forecastscale.actuators.capi import MAX_REPLICAS, MachineDeploymentScale, ready_replicas_from_dict
from forecastscale.errors import PermanentError
from forecastscale.kube.errors import Malformed
from forecastscale.service.pools import PoolView, pool_view


def _md(status: Any = None, **fields: Any) -> dict[str, Any]:
    """A MachineDeployment object as ``CustomObjectsApi`` returns it; ``status`` None: no status at all."""
    obj: dict[str, Any] = {"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment",
                           "metadata": {"name": "gpu-md", "namespace": "capi"}, "spec": {"replicas": 4}}
    if status is not None or fields:
        obj["status"] = status if status is not None else fields
    return obj


# (object, spec.replicas, status.replicas (machines)) → (ready, starting)
CASES = [
    pytest.param(_md(), 4, 0, PoolView(0, 4), id="no-status-yet"),
    pytest.param(_md(replicas=4), 4, 4, PoolView(0, 4), id="absent-readyReplicas-is-0-machines-made"),
    pytest.param(_md(replicas=4, readyReplicas=0), 4, 4, PoolView(0, 4), id="zero"),
    pytest.param(_md(replicas=4, readyReplicas=1), 4, 4, PoolView(1, 3), id="partial-stockout"),
    pytest.param(_md(replicas=4, readyReplicas=4), 4, 4, PoolView(4, 0), id="all-ready"),
    pytest.param(_md(replicas=5, readyReplicas=5), 2, 5, PoolView(2, 0), id="more-ready-than-spec-clipped"),
    pytest.param(_md(replicas=0), 0, 0, PoolView(0, 0), id="empty-pool"),
    pytest.param(_md(replicas=3, readyReplicas=1, deprecated={"v1beta1": {"readyReplicas": 3}}), 3, 3,
                 PoolView(1, 2), id="v1beta2-deprecated-copy-not-read"),
    pytest.param(_md(replicas=3, readyReplicas=2, v1beta2={"readyReplicas": 0}), 3, 3, PoolView(2, 1),
                 id="v1beta1-preview-of-v1beta2-not-read"),
    pytest.param(_md(replicas=3, readyReplicas=MAX_REPLICAS), 3, 3, PoolView(3, 0), id="at-the-bound"),
]


@pytest.mark.parametrize(("obj", "spec", "machines", "view"), CASES)
def test_ready_nodes_come_from_ready_replicas_and_the_rest_of_the_spec_is_starting(
        obj: dict[str, Any], spec: int, machines: int, view: PoolView) -> None:
    state = ScaleState(spec, machines, "7", ready_replicas_from_dict(obj))
    assert pool_view(state) == view


def test_without_ready_replicas_the_scale_status_is_the_ready_count() -> None:
    """Deployments, balloon pools, dry runs without a cluster: their ``status.replicas`` is what runs."""
    assert pool_view(ScaleState(5, 3, "1")) == PoolView(3, 2)
    assert pool_view(ScaleState(2, 3, "1")) == PoolView(2, 0)


HOSTILE = [
    pytest.param(_md(replicas=3, readyReplicas=-1), id="negative"),
    pytest.param(_md(replicas=3, readyReplicas="3"), id="string"),
    pytest.param(_md(replicas=3, readyReplicas=2.0), id="float"),
    pytest.param(_md(replicas=3, readyReplicas=True), id="bool"),
    pytest.param(_md(replicas=3, readyReplicas=MAX_REPLICAS + 1), id="beyond-the-bound"),
    pytest.param(_md(replicas=3, readyReplicas=10**400), id="huge"),
    pytest.param(_md(replicas=3, readyReplicas={"n": 1}), id="object"),
    pytest.param(_md(status=["not", "an", "object"]), id="status-not-an-object"),
    pytest.param(["not", "an", "object"], id="object-not-an-object"),
]


@pytest.mark.parametrize("obj", HOSTILE)
def test_hostile_values_are_refused_naming_the_field(obj: Any) -> None:
    with pytest.raises(ValueError, match=r"readyReplicas|status|MachineDeployment object") as info:
        ready_replicas_from_dict(obj)
    assert len(str(info.value)) < 300  # the value is shown cut short, never whole


class FakeCustomObjects:
    """``CustomObjectsApi`` stand-in: a fixed scale and object; records the calls."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.calls: list[str] = []

    def get_namespaced_custom_object_scale(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("get scale")
        return {"kind": "Scale", "metadata": {"resourceVersion": "9"}, "spec": {"replicas": 3},
                "status": {"replicas": 3}}

    def replace_namespaced_custom_object_scale(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("update scale")
        return {"kind": "Scale", "metadata": {"resourceVersion": "10"}, "spec": args[5]["spec"], "status": {}}

    def get_namespaced_custom_object(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("get object")
        return self.obj


def _actuator(api: FakeCustomObjects) -> MachineDeploymentScale:
    return MachineDeploymentScale(api, namespace="capi", name="gpu-md")  # type: ignore[arg-type]


def test_current_reads_the_scale_then_the_ready_nodes() -> None:
    api = FakeCustomObjects(_md(replicas=3, readyReplicas=1))
    assert _actuator(api).current() == ScaleState(3, 3, "9", 1)
    assert api.calls == ["get scale", "get object"]


@pytest.mark.parametrize("obj", HOSTILE)
def test_a_hostile_ready_count_is_a_permanent_typed_error_naming_the_pool(obj: Any) -> None:
    with pytest.raises(Malformed, match=r"^MachineDeployment capi/gpu-md: ") as info:
        _actuator(FakeCustomObjects(obj)).current()
    assert isinstance(info.value, PermanentError) and isinstance(info.value.__cause__, ValueError)
    assert info.value.target == "MachineDeployment capi/gpu-md" and info.value.status == 200


def test_a_write_reads_only_the_scale() -> None:
    """Sizing a pool needs spec.replicas and the resourceVersion: the object (and a bad status) is not read."""
    api = FakeCustomObjects(_md(replicas=3, readyReplicas="bad"))
    assert _actuator(api).apply(5).changed
    assert api.calls == ["get scale", "update scale"]
