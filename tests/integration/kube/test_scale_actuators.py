"""The scale actuators, driven through the official ``kubernetes`` client against the API-server double."""

from __future__ import annotations

import socket

import pytest
from kubernetes import client

from forecastscale.actuators import Actuator, Outcome
from forecastscale.actuators.capi import MachineDeploymentScale
from forecastscale.actuators.kubernetes import ScaleSubresource
from forecastscale.errors import PermanentError, TemporaryError
from forecastscale.kube.errors import Conflict, Forbidden, Malformed, NotFound, TooManyRequests, Unavailable
from tests.integration.kube.apiserver import Fault, ScaleApiDouble
from tests.integration.kube.conftest import FakeSleep

NS = "default"


@pytest.fixture
def deployment(kube: ScaleApiDouble, api_client: client.ApiClient, sleep: FakeSleep) -> ScaleSubresource:
    kube.add("deployments", NS, "web", replicas=2)
    return ScaleSubresource(api_client, kind="Deployment", namespace=NS, name="web", sleep=sleep)


def spec_replicas(kube: ScaleApiDouble, plural: str, name: str) -> int:
    return int(kube.stored(plural, NS, name)["spec"]["replicas"])


def test_apply_changes_the_stored_replicas(kube: ScaleApiDouble, deployment: ScaleSubresource) -> None:
    before = deployment.current()
    result = deployment.apply(5)
    assert isinstance(deployment, Actuator)
    assert (result.outcome, result.from_replicas, result.to_replicas, result.attempts) == (Outcome.PATCHED, 2, 5, 1)
    assert spec_replicas(kube, "deployments", "web") == 5
    assert result.resource_version == kube.stored("deployments", NS, "web")["metadata"]["resourceVersion"]
    assert result.resource_version != before.resource_version
    assert deployment.current().spec_replicas == 5


def test_unchanged_target_sends_no_put(kube: ScaleApiDouble, deployment: ScaleSubresource) -> None:
    result = deployment.apply(2)
    assert result.outcome is Outcome.UNCHANGED and not result.changed
    assert (kube.count("GET"), kube.count("PUT")) == (1, 0)


def test_statefulset_scale(kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    kube.add("statefulsets", NS, "db", replicas=3, status_replicas=1)
    actuator = ScaleSubresource(client.AppsV1Api(api_client), kind="StatefulSet", namespace=NS, name="db")
    assert (actuator.current().spec_replicas, actuator.current().status_replicas) == (3, 1)
    assert actuator.apply(4).changed
    assert spec_replicas(kube, "statefulsets", "db") == 4
    assert kube.requests[-1] == ("PUT", f"/apis/apps/v1/namespaces/{NS}/statefulsets/db/scale")


def test_one_conflict_is_retried(kube: ScaleApiDouble, deployment: ScaleSubresource) -> None:
    kube.interfere(times=1)  # another writer updates the object between our first GET and PUT
    result = deployment.apply(7)
    assert result.changed and result.attempts == 2
    assert (kube.count("GET"), kube.count("PUT")) == (2, 2)
    assert spec_replicas(kube, "deployments", "web") == 7
    assert kube.stored("deployments", NS, "web")["metadata"]["labels"] == {"touched": "yes"}  # their write kept


def test_conflict_every_time_gives_up_after_bounded_attempts(
    kube: ScaleApiDouble, deployment: ScaleSubresource,
) -> None:
    kube.interfere(times=100)
    with pytest.raises(Conflict) as info:
        deployment.apply(7)
    assert isinstance(info.value, TemporaryError)
    assert info.value.status == 409 and info.value.reason == "Conflict"
    assert "Deployment default/web" in str(info.value) and "has been modified" in str(info.value)
    assert "gave up after 3 attempts" in info.value.__notes__
    assert kube.count("PUT") == deployment.policy.attempts == 3
    assert spec_replicas(kube, "deployments", "web") == 2
    assert isinstance(info.value.__cause__, client.exceptions.ApiException)


def test_429_honours_retry_after(kube: ScaleApiDouble, deployment: ScaleSubresource, sleep: FakeSleep) -> None:
    kube.fail(Fault(429, method="PUT", retry_after_s=2))
    result = deployment.apply(4)
    assert sleep.calls == [2.0]
    assert result.changed and result.attempts == 2
    assert spec_replicas(kube, "deployments", "web") == 4


def test_429_every_time_raises_with_retry_after(
    kube: ScaleApiDouble, deployment: ScaleSubresource, sleep: FakeSleep,
) -> None:
    kube.fail(Fault(429, method=None, times=100, retry_after_s=3))
    with pytest.raises(TooManyRequests) as info:
        deployment.apply(4)
    assert info.value.retry_after_s == 3.0
    assert sleep.calls == [3.0, 3.0]  # no sleep after the last attempt
    assert kube.count("GET") == 3 and kube.count("PUT") == 0


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_403_is_forbidden_naming_the_object(kube: ScaleApiDouble, deployment: ScaleSubresource, method: str) -> None:
    kube.fail(Fault(403, method=method, times=100))
    with pytest.raises(Forbidden) as info:
        deployment.apply(4)
    assert isinstance(info.value, PermanentError)
    assert str(info.value).startswith("Deployment default/web: HTTP 403 Forbidden")
    assert kube.count(method) == 1  # permanent: not retried


def test_404_is_not_found_naming_the_object(kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    actuator = ScaleSubresource(api_client, kind="Deployment", namespace=NS, name="missing")
    with pytest.raises(NotFound, match=r'Deployment default/missing: HTTP 404 NotFound: .*"missing" not found'):
        actuator.apply(1)
    assert kube.count("GET") == 1 and kube.count("PUT") == 0


def test_5xx_is_unavailable(kube: ScaleApiDouble, deployment: ScaleSubresource) -> None:
    kube.fail(Fault(503, method="PUT"))
    with pytest.raises(Unavailable, match="HTTP 503 ServiceUnavailable"):
        deployment.apply(4)
    assert spec_replicas(kube, "deployments", "web") == 2


def test_refused_connection_is_unavailable(sleep: FakeSleep) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    configuration = client.Configuration(host=f"http://127.0.0.1:{port}")
    configuration.retries = False
    with client.ApiClient(configuration) as api:
        actuator = ScaleSubresource(api, kind="Deployment", namespace=NS, name="web", sleep=sleep,
                                    request_timeout_s=2.0)
        with pytest.raises(Unavailable, match="Deployment default/web: no response") as info:
            actuator.current()
    assert info.value.status == 0 and info.value.__cause__ is not None


def test_negative_replicas_rejected_before_any_request(kube: ScaleApiDouble, deployment: ScaleSubresource) -> None:
    with pytest.raises(ValueError, match="replicas must be >= 0"):
        deployment.apply(-1)
    assert kube.requests == []


def test_machinedeployment_scale(kube: ScaleApiDouble, api_client: client.ApiClient, sleep: FakeSleep) -> None:
    kube.add("machinedeployments", NS, "gpu-pool", replicas=1)
    actuator = MachineDeploymentScale(api_client, namespace=NS, name="gpu-pool", sleep=sleep)
    assert isinstance(actuator, Actuator)
    kube.interfere(times=1)
    kube.fail(Fault(429, method="GET", retry_after_s=2))
    result = actuator.apply(3)
    assert (result.outcome, result.from_replicas, result.to_replicas, result.attempts) == (Outcome.PATCHED, 1, 3, 3)
    assert sleep.calls == [2.0]
    assert spec_replicas(kube, "machinedeployments", "gpu-pool") == 3
    path = f"/apis/cluster.x-k8s.io/v1beta1/namespaces/{NS}/machinedeployments/gpu-pool/scale"
    assert kube.requests[-1] == ("PUT", path)
    assert actuator.apply(3).outcome is Outcome.UNCHANGED


def test_machinedeployment_errors_name_the_object(kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    actuator = MachineDeploymentScale(api_client, namespace=NS, name="absent")
    with pytest.raises(NotFound, match=r'MachineDeployment default/absent: .*machinedeployments.cluster.x-k8s.io'):
        actuator.current()
    kube.add("machinedeployments", NS, "absent", replicas=1)
    kube.fail(Fault(403, method="PUT"))
    with pytest.raises(Forbidden, match="MachineDeployment default/absent"):
        actuator.apply(2)


def test_machinedeployment_machines_made_but_nodes_not_ready_read_as_not_ready(
        kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    """Cluster API makes the machines at once (the scale's ``status.replicas``); only ``readyReplicas`` says whose
    Node is Ready, and it is left out of the object while 0."""
    kube.add("machinedeployments", NS, "gpu-pool", replicas=1)  # one machine, its node Ready
    actuator = MachineDeploymentScale(api_client, namespace=NS, name="gpu-pool")
    assert actuator.apply(4).changed
    assert kube.count("GET", "machinedeployments") - kube.count("GET") == 0  # a write reads the scale only
    state = actuator.current()
    assert (state.spec_replicas, state.status_replicas, state.ready_replicas) == (4, 4, 1)
    path = f"/apis/cluster.x-k8s.io/v1beta1/namespaces/{NS}/machinedeployments/gpu-pool"
    assert kube.requests[-2:] == [("GET", f"{path}/scale"), ("GET", path)]
    obj = client.CustomObjectsApi(api_client).get_namespaced_custom_object(
        "cluster.x-k8s.io", "v1beta1", NS, "machinedeployments", "gpu-pool")
    assert obj["kind"] == "MachineDeployment" and obj["status"] == {"replicas": 4, "readyReplicas": 1}
    kube.set_ready(NS, "gpu-pool", 0)
    assert "readyReplicas" not in kube.stored("machinedeployments", NS, "gpu-pool")["status"]  # omitted, as CAPI
    assert actuator.current().ready_replicas == 0
    kube.set_ready(NS, "gpu-pool", 4)
    assert actuator.apply(2).changed  # a scale-down deletes machines: at most 2 Ready remain
    assert (actuator.current().status_replicas, actuator.current().ready_replicas) == (2, 2)


@pytest.mark.parametrize("ready", ["3", -1, 2.0, True, 10**12, [1]], ids=["string", "negative", "float", "bool",
                                                                          "huge", "list"])
def test_machinedeployment_hostile_ready_replicas_is_a_permanent_typed_error(
        kube: ScaleApiDouble, api_client: client.ApiClient, ready: object) -> None:
    kube.add("machinedeployments", NS, "gpu-pool", replicas=3)
    kube.set_ready(NS, "gpu-pool", ready)  # type: ignore[arg-type]  # what a broken server could send
    actuator = MachineDeploymentScale(api_client, namespace=NS, name="gpu-pool")
    with pytest.raises(Malformed, match=r"MachineDeployment default/gpu-pool: status\.readyReplicas") as info:
        actuator.current()
    assert isinstance(info.value, PermanentError) and info.value.status == 200
    assert actuator.apply(5).changed  # writes read the scale only: a bad status does not block sizing
