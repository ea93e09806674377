"""The balloon (headroom-pod) actuator, and the double's Deployment/PriorityClass endpoints, via the official client."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from forecastscale.actuators import Actuator, Outcome, ScaleState
from forecastscale.actuators.balloon import BalloonPool
from forecastscale.errors import PermanentError
from forecastscale.kube.errors import Conflict, Forbidden, Rejected, TooManyRequests
from tests.integration.kube.apiserver import Fault, ScaleApiDouble
from tests.integration.kube.conftest import FakeSleep

NS = "gpu-system"
NAME = "forecastscale-balloon-a100"
PC = "forecastscale-balloon"
PC_PATH = "/apis/scheduling.k8s.io/v1/priorityclasses"
DEPLOYMENTS_PATH = f"/apis/apps/v1/namespaces/{NS}/deployments"
SCALE_PATH = f"{DEPLOYMENTS_PATH}/{NAME}/scale"
NODE_SELECTOR = {"forecastscale.io/pool": "a100"}
TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
LABELS = {"app.kubernetes.io/managed-by": "forecastscale", "forecastscale.io/balloon-pool": "a100"}


def make_pool(api_client: client.ApiClient, sleep: FakeSleep, **overrides: Any) -> BalloonPool:
    settings: dict[str, Any] = {
        "namespace": NS, "name": NAME, "pool": "a100", "gpus_per_pod": 8, "cpu": "100m", "memory": "64Mi",
        "node_selector": NODE_SELECTOR, "tolerations": TOLERATIONS, "sleep": sleep,
    }
    return BalloonPool(api_client, **(settings | overrides))


@pytest.fixture
def pool(api_client: client.ApiClient, sleep: FakeSleep) -> BalloonPool:
    return make_pool(api_client, sleep)


def writes(kube: ScaleApiDouble) -> list[tuple[str, str]]:
    """Every non-GET request, in order."""
    return [(method, path) for method, path in kube.requests if method != "GET"]


def stored_deployment(kube: ScaleApiDouble) -> dict[str, Any]:
    return kube.stored("deployments", NS, NAME)


# --- BalloonPool ---------------------------------------------------------------------------------------
def test_current_of_a_missing_balloon_is_zero_not_created(kube: ScaleApiDouble, pool: BalloonPool) -> None:
    assert isinstance(pool, Actuator)
    assert pool.target == f"Deployment {NS}/{NAME}"
    assert pool.current() == ScaleState(0, 0, "")
    result = pool.apply(0)  # nothing to reserve: nothing is created
    assert (result.outcome, result.from_replicas, result.resource_version) == (Outcome.UNCHANGED, 0, "")
    assert writes(kube) == [] and not kube.has("deployments", NS, NAME) and not kube.has("priorityclasses", None, PC)


def test_first_apply_creates_the_priority_class_then_the_deployment(kube: ScaleApiDouble, pool: BalloonPool) -> None:
    result = pool.apply(3)
    assert (result.outcome, result.from_replicas, result.to_replicas, result.attempts) == (Outcome.PATCHED, 0, 3, 1)
    assert writes(kube) == [("POST", PC_PATH), ("POST", DEPLOYMENTS_PATH)]

    priority_class = kube.stored("priorityclasses", None, PC)
    assert (priority_class["value"], priority_class["preemptionPolicy"], priority_class["globalDefault"]) == (
        -10, "Never", False)
    assert "namespace" not in priority_class["metadata"]  # cluster-scoped

    deployment = stored_deployment(kube)
    assert result.resource_version == deployment["metadata"]["resourceVersion"]
    assert deployment["metadata"]["labels"] == LABELS
    spec = deployment["spec"]
    assert spec["replicas"] == 3
    assert spec["selector"] == {"matchLabels": LABELS} and spec["template"]["metadata"]["labels"] == LABELS
    pod = spec["template"]["spec"]
    assert pod["priorityClassName"] == PC and pod["terminationGracePeriodSeconds"] == 0
    assert pod["nodeSelector"] == NODE_SELECTOR and pod["tolerations"] == TOLERATIONS
    [container] = pod["containers"]
    assert (container["name"], container["image"]) == ("pause", "registry.k8s.io/pause:3.10")
    assert container["resources"] == {"requests": {"nvidia.com/gpu": "8", "cpu": "100m", "memory": "64Mi"},
                                      "limits": {"nvidia.com/gpu": "8"}}
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    # The double's instant controller: the scale's status follows spec for a created Deployment.
    assert pool.current() == ScaleState(3, 3, result.resource_version)


def test_next_apply_scales_through_the_scale_subresource_only(kube: ScaleApiDouble, pool: BalloonPool) -> None:
    pool.apply(2)
    template = stored_deployment(kube)["spec"]["template"]
    result = pool.apply(5)
    assert (result.outcome, result.from_replicas, result.to_replicas, result.attempts) == (Outcome.PATCHED, 2, 5, 1)
    assert writes(kube) == [("POST", PC_PATH), ("POST", DEPLOYMENTS_PATH), ("PUT", SCALE_PATH)]
    deployment = stored_deployment(kube)
    assert deployment["spec"]["replicas"] == 5 and deployment["spec"]["template"] == template
    assert deployment["metadata"]["generation"] == 2
    assert result.resource_version == deployment["metadata"]["resourceVersion"]
    assert pool.current().status_replicas == 5
    assert pool.apply(0).changed and stored_deployment(kube)["spec"]["replicas"] == 0  # scaled down, not deleted
    assert kube.count("POST", "priorityclasses") == kube.count("POST", "deployments") == 1


def test_equal_target_writes_nothing(kube: ScaleApiDouble, api_client: client.ApiClient, pool: BalloonPool,
                                     sleep: FakeSleep) -> None:
    pool.apply(2)
    before = list(kube.requests)
    result = pool.apply(2)
    assert (result.outcome, result.changed) == (Outcome.UNCHANGED, False)
    assert kube.requests[len(before):] == [("GET", SCALE_PATH)]
    # A fresh instance (a restarted process) reads, finds nothing to do, and writes nothing either.
    assert make_pool(api_client, sleep).apply(2).outcome is Outcome.UNCHANGED
    assert writes(kube) == [("POST", PC_PATH), ("POST", DEPLOYMENTS_PATH)]


def test_an_existing_priority_class_is_used(kube: ScaleApiDouble, pool: BalloonPool) -> None:
    theirs = kube.add_object("priorityclasses", None, PC, {"value": -5, "preemptionPolicy": "Never"})
    assert pool.apply(1).changed
    assert kube.count("POST", "priorityclasses") == 1 and kube.count("GET", "priorityclasses") == 1  # 409, then read
    assert kube.stored("priorityclasses", None, PC) == theirs  # left as it was
    assert stored_deployment(kube)["spec"]["template"]["spec"]["priorityClassName"] == PC


def test_an_existing_non_negative_priority_class_is_refused(kube: ScaleApiDouble, pool: BalloonPool) -> None:
    kube.add_object("priorityclasses", None, PC, {"value": 1000})
    with pytest.raises(Rejected, match=rf"PriorityClass {PC}: HTTP 409 AlreadyExists: .*value 1000") as info:
        pool.apply(1)
    assert isinstance(info.value, PermanentError)
    assert not kube.has("deployments", NS, NAME)


def test_a_restarted_actuator_ensures_the_priority_class_before_scaling(
    kube: ScaleApiDouble, api_client: client.ApiClient, pool: BalloonPool, sleep: FakeSleep,
) -> None:
    pool.apply(1)
    assert make_pool(api_client, sleep).apply(4).changed  # e.g. the class was deleted meanwhile: it comes back
    assert writes(kube)[2:] == [("POST", PC_PATH), ("PUT", SCALE_PATH)]
    assert stored_deployment(kube)["spec"]["replicas"] == 4


def test_a_conflict_on_the_scale_is_retried(kube: ScaleApiDouble, pool: BalloonPool) -> None:
    pool.apply(1)
    kube.interfere(times=1)  # another writer updates the Deployment between our GET and PUT
    result = pool.apply(4)
    assert result.changed and result.attempts == 2
    assert (kube.count("GET"), kube.count("PUT")) == (3, 2)  # 1 for the create, then 2 rounds
    assert stored_deployment(kube)["spec"]["replicas"] == 4
    assert stored_deployment(kube)["metadata"]["labels"]["touched"] == "yes"  # their write kept


def test_conflicts_every_time_give_up_after_bounded_attempts(kube: ScaleApiDouble, pool: BalloonPool) -> None:
    pool.apply(1)
    kube.interfere(times=100)
    with pytest.raises(Conflict) as info:
        pool.apply(4)
    assert "gave up after 3 attempts" in info.value.__notes__
    assert kube.count("PUT") == 3 and stored_deployment(kube)["spec"]["replicas"] == 1


def test_a_deployment_created_by_someone_else_meanwhile_is_scaled(
    kube: ScaleApiDouble, pool: BalloonPool,
) -> None:
    # Our read finds nothing; by the time we create, another replica of forecastscale has: 409 AlreadyExists.
    kube.add_object("deployments", NS, NAME, pool.deployment_body(1) | {"status": {"replicas": 1}})
    kube.fail(Fault(404, method="GET", resource="scale"))
    result = pool.apply(3)
    assert (result.outcome, result.attempts) == (Outcome.PATCHED, 2)
    assert writes(kube) == [("POST", PC_PATH), ("POST", DEPLOYMENTS_PATH), ("PUT", SCALE_PATH)]
    assert stored_deployment(kube)["spec"]["replicas"] == 3


def test_429_on_creating_the_priority_class_honours_retry_after(
    kube: ScaleApiDouble, pool: BalloonPool, sleep: FakeSleep,
) -> None:
    kube.fail(Fault(429, method="POST", resource="priorityclasses", retry_after_s=2))
    result = pool.apply(2)
    assert sleep.calls == [2.0] and (result.changed, result.attempts) == (True, 2)
    assert kube.count("POST", "priorityclasses") == 2 and kube.count("POST", "deployments") == 1


def test_429_every_time_raises(kube: ScaleApiDouble, pool: BalloonPool, sleep: FakeSleep) -> None:
    kube.fail(Fault(429, method="POST", resource="deployments", times=100))
    with pytest.raises(TooManyRequests, match=f"Deployment {NS}/{NAME}: HTTP 429"):
        pool.apply(2)
    assert kube.count("POST", "deployments") == 3 and len(sleep.calls) == 2


def test_403_on_creating_the_deployment_is_forbidden(kube: ScaleApiDouble, pool: BalloonPool) -> None:
    kube.fail(Fault(403, method="POST", resource="deployments", times=100))
    with pytest.raises(Forbidden) as info:
        pool.apply(2)
    assert isinstance(info.value, PermanentError) and info.value.status == 403
    assert str(info.value).startswith(f"Deployment {NS}/{NAME}: HTTP 403 Forbidden: deployments.apps is forbidden")
    assert f'cannot create resource "deployments" in API group "apps" in the namespace "{NS}"' in str(info.value)
    assert kube.count("POST", "deployments") == 1  # permanent: not retried
    assert not kube.has("deployments", NS, NAME)


def test_403_on_creating_the_priority_class_names_it(kube: ScaleApiDouble, pool: BalloonPool) -> None:
    kube.fail(Fault(403, method="POST", resource="priorityclasses"))
    with pytest.raises(Forbidden, match=rf"^PriorityClass {PC}: HTTP 403 Forbidden: .*at the cluster scope"):
        pool.apply(2)
    assert kube.count("POST", "deployments") == 0


# --- the double's whole Deployments and PriorityClasses -----------------------------------------------
def test_double_deployment_create_replace_and_conflicts(kube: ScaleApiDouble, api_client: client.ApiClient,
                                                        pool: BalloonPool) -> None:
    apps = client.AppsV1Api(api_client)
    created = apps.create_namespaced_deployment(NS, client.V1Deployment.model_validate(pool.deployment_body(1)))
    assert (created.metadata.generation, created.status.replicas) == (1, 1)
    with pytest.raises(client.ApiException) as info:
        apps.create_namespaced_deployment(NS, client.V1Deployment.model_validate(pool.deployment_body(1)))
    assert info.value.status == 409 and '"reason":"AlreadyExists"' in info.value.body.replace(" ", "")

    read = apps.read_namespaced_deployment(NAME, NS)
    read.spec.replicas = 4
    replaced = apps.replace_namespaced_deployment(NAME, NS, read)
    assert (replaced.metadata.generation, replaced.spec.replicas, replaced.status.replicas) == (2, 4, 4)
    assert replaced.metadata.resource_version != read.metadata.resource_version
    same = apps.replace_namespaced_deployment(NAME, NS, apps.read_namespaced_deployment(NAME, NS))
    assert same.metadata.resource_version == replaced.metadata.resource_version  # no change: no new version
    with pytest.raises(client.ApiException) as info:
        apps.replace_namespaced_deployment(NAME, NS, read)  # read's resourceVersion is stale now
    assert info.value.status == 409 and kube.stored("deployments", NS, NAME)["spec"]["replicas"] == 4
    scale = apps.read_namespaced_deployment_scale(NAME, NS)
    assert (scale.spec.replicas, scale.status.replicas) == (4, 4)
    assert scale.status.selector == "app.kubernetes.io/managed-by=forecastscale,forecastscale.io/balloon-pool=a100"
    assert kube.count("PUT", "deployments") == 3 and kube.count("GET", "scale") == 1


@pytest.mark.parametrize(("change", "message"), [
    pytest.param(lambda d: d["spec"]["template"]["spec"]["containers"][0]["resources"].pop("limits"),
                 "Limit must be set for non overcommitable resources", id="gpu-request-without-limit"),
    pytest.param(lambda d: d["spec"]["template"]["metadata"].update(labels={"other": "x"}),
                 "`selector` does not match template `labels`", id="selector-mismatch"),
    pytest.param(lambda d: d["spec"].update(selector={}), "spec.selector: Required value", id="empty-selector"),
])
def test_double_refuses_invalid_deployments(kube: ScaleApiDouble, api_client: client.ApiClient, pool: BalloonPool,
                                            change: Any, message: str) -> None:
    body = pool.deployment_body(1)
    change(body)
    with pytest.raises(client.ApiException) as info:
        client.AppsV1Api(api_client).create_namespaced_deployment(NS, client.V1Deployment.model_validate(body))
    assert info.value.status == 422 and message in info.value.body
    assert not kube.has("deployments", NS, NAME)


def test_double_priority_classes_are_cluster_scoped(kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    scheduling = client.SchedulingV1Api(api_client)
    created = scheduling.create_priority_class(client.V1PriorityClass(
        metadata=client.V1ObjectMeta(name="low"), value=-1, global_default=True))
    assert (created.preemption_policy, created.metadata.namespace) == ("PreemptLowerPriority", None)  # defaulted
    assert scheduling.read_priority_class("low").value == -1
    for body, status in [
        (client.V1PriorityClass(metadata=client.V1ObjectMeta(name="low"), value=-1), 409),
        (client.V1PriorityClass(metadata=client.V1ObjectMeta(name="other"), value=1, global_default=True), 422),
        (client.V1PriorityClass(metadata=client.V1ObjectMeta(name="huge"), value=2_000_000_000), 422),
    ]:
        with pytest.raises(client.ApiException) as info:
            scheduling.create_priority_class(body)
        assert info.value.status == status
    with pytest.raises(client.ApiException) as info:
        scheduling.read_priority_class("missing")
    assert info.value.status == 404
    read = scheduling.read_priority_class("low")
    read.value = -2
    with pytest.raises(client.ApiException, match="may not be changed"):
        scheduling.replace_priority_class("low", read)
    assert kube.requests[0] == ("POST", PC_PATH) and kube.count("POST", "priorityclasses") == 4
    with pytest.raises(ValueError, match="cluster-scoped"):
        kube.stored("priorityclasses", "default", "low")
