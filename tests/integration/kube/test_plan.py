"""The plan ConfigMap, driven through the official ``kubernetes`` client against the API-server double."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from forecastscale.actuators.errors import Conflict, Forbidden, Unavailable
from forecastscale.errors import PermanentError, TemporaryError
from forecastscale.service.plan import MAX_PLAN_BYTES, PlanCorrupt, PlanStore, PlanTooLarge
from tests.integration.kube.apiserver import Fault, ScaleApiDouble

NS, NAME = "default", "forecastscale-plan"
PLAN: dict[str, Any] = {
    "version": 1, "saved_at": 1714564800.5,
    "targets": {"chat": {"recommendations": [[1714564740.0, 12], [1714564800.0, 15]], "events": [],
                         "last_replicas": 15},
                "batch": {"recommendations": [], "events": [[1714564700.0, 3]], "last_replicas": None}},
}


@pytest.fixture
def store(api_client: client.ApiClient) -> PlanStore:
    return PlanStore(api_client, NS, NAME, request_timeout_s=5.0)


def stored(kube: ScaleApiDouble) -> dict[str, Any]:
    return kube.stored("configmaps", NS, NAME)


def test_load_without_a_configmap_is_none(kube: ScaleApiDouble, store: PlanStore) -> None:
    assert store.load() is None
    assert kube.requests == [("GET", f"/api/v1/namespaces/{NS}/configmaps/{NAME}")]


def test_load_without_the_key_is_none(kube: ScaleApiDouble, store: PlanStore) -> None:
    kube.add_object("configmaps", NS, NAME, {"data": {"other": "x"}})
    assert store.load() is None


def test_save_creates_the_labelled_configmap(kube: ScaleApiDouble, store: PlanStore) -> None:
    store.save(PLAN)
    cm = stored(kube)
    assert cm["data"] == {PlanStore.KEY: json.dumps(PLAN, sort_keys=True)}
    assert cm["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "forecastscale"}
    assert (cm["apiVersion"], cm["kind"]) == ("v1", "ConfigMap")
    assert [m for m, _ in kube.requests] == ["GET", "POST"]


def test_save_again_replaces_and_round_trips(kube: ScaleApiDouble, store: PlanStore,
                                            api_client: client.ApiClient) -> None:
    store.save(PLAN)
    first = stored(kube)["metadata"]
    later = {**PLAN, "saved_at": PLAN["saved_at"] + 60}
    store.save(later)
    second = stored(kube)["metadata"]
    assert second["resourceVersion"] != first["resourceVersion"]
    assert (second["uid"], second["creationTimestamp"]) == (first["uid"], first["creationTimestamp"])
    assert kube.count("PUT", "configmaps") == 1 and kube.count("POST", "configmaps") == 1
    assert store.load() == later
    fresh = PlanStore(client.CoreV1Api(api_client), NS, NAME)  # a new leader, its own store
    assert fresh.load() == later


def test_save_keeps_labels_and_annotations_of_others(kube: ScaleApiDouble, store: PlanStore) -> None:
    kube.add_object("configmaps", NS, NAME, {"metadata": {"labels": {"team": "ml"}, "annotations": {"a": "b"}},
                                             "data": {PlanStore.KEY: "{}"}})
    store.save(PLAN)
    meta = stored(kube)["metadata"]
    assert meta["labels"] == {"team": "ml", "app.kubernetes.io/managed-by": "forecastscale"}
    assert meta["annotations"] == {"a": "b"}


def test_a_concurrent_writer_is_reread_and_the_save_succeeds(kube: ScaleApiDouble, store: PlanStore) -> None:
    store.save(PLAN)
    kube.interfere(times=1, resource="configmaps")  # another writer between our read and our write
    later = {**PLAN, "saved_at": 0.0}
    store.save(later)
    assert kube.count("PUT", "configmaps") == 2 and kube.count("GET", "configmaps") == 3
    cm = stored(kube)
    assert cm["metadata"]["labels"]["touched"] == "yes"  # the other write was read, not clobbered
    assert json.loads(cm["data"][PlanStore.KEY]) == later


def test_a_409_on_create_is_retried(kube: ScaleApiDouble, store: PlanStore) -> None:
    kube.fail(Fault(409, method="POST", resource="configmaps"))
    store.save(PLAN)
    assert store.load() == PLAN and kube.count("POST", "configmaps") == 2


def test_conflicts_every_time_give_up_after_the_attempts(kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    store = PlanStore(api_client, NS, NAME, attempts=2)
    store.save(PLAN)
    before = stored(kube)["data"]
    kube.interfere(times=100, resource="configmaps")
    with pytest.raises(Conflict) as info:
        store.save({"version": 2})
    assert isinstance(info.value, TemporaryError) and info.value.status == 409
    assert str(info.value).startswith(f"ConfigMap {NS}/{NAME}: HTTP 409 Conflict")
    assert "gave up after 2 attempts" in info.value.__notes__
    assert kube.count("PUT", "configmaps") == 2
    assert stored(kube)["data"] == before


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_403_raises_forbidden(kube: ScaleApiDouble, store: PlanStore, method: str) -> None:
    kube.add_object("configmaps", NS, NAME, {"data": {PlanStore.KEY: "{}"}})
    kube.fail(Fault(403, method=method, times=10, resource="configmaps"))
    with pytest.raises(Forbidden, match=rf'ConfigMap {NS}/{NAME}: HTTP 403 Forbidden: configmaps "{NAME}"'):
        store.save(PLAN)
    assert kube.count(method, "configmaps") == 1  # permanent: not retried


def test_403_on_load_raises_forbidden(kube: ScaleApiDouble, store: PlanStore) -> None:
    kube.fail(Fault(403, method="GET", resource="configmaps"))
    with pytest.raises(Forbidden):
        store.load()


def test_other_errors_propagate_unretried(kube: ScaleApiDouble, store: PlanStore) -> None:
    kube.fail(Fault(503, method="GET", resource="configmaps"))
    with pytest.raises(Unavailable):
        store.save(PLAN)
    assert kube.requests == [("GET", f"/api/v1/namespaces/{NS}/configmaps/{NAME}")]


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "is not JSON"),
    ("[1, 2]", "holds a JSON list, not an object"),
    ("", "is not JSON"),
], ids=["not-json", "a-list", "empty"])
def test_a_corrupt_plan_raises_naming_the_configmap(kube: ScaleApiDouble, store: PlanStore, text: str,
                                                    message: str) -> None:
    kube.add_object("configmaps", NS, NAME, {"data": {PlanStore.KEY: text}})
    with pytest.raises(PlanCorrupt, match=f"ConfigMap {NS}/{NAME}: key plan.json {message}") as info:
        store.load()
    assert isinstance(info.value, PermanentError) and info.value.target == f"ConfigMap {NS}/{NAME}"


def test_an_oversized_plan_is_refused_before_any_request(kube: ScaleApiDouble, store: PlanStore) -> None:
    big = {"blob": "x" * MAX_PLAN_BYTES}
    with pytest.raises(PlanTooLarge, match=r"ConfigMap default/forecastscale-plan: the plan is 921,") as info:
        store.save(big)
    assert isinstance(info.value, PermanentError) and info.value.size > MAX_PLAN_BYTES
    assert kube.requests == []
    store.save({"blob": "x" * (MAX_PLAN_BYTES - 100)})  # just under the guard: stored
    assert len(stored(kube)["data"][PlanStore.KEY]) <= MAX_PLAN_BYTES


def test_attempts_must_be_positive(api_client: client.ApiClient) -> None:
    with pytest.raises(ValueError, match="attempts must be >= 1, got 0"):
        PlanStore(api_client, NS, NAME, attempts=0)


def test_the_double_refuses_a_stale_configmap_put_and_keeps_the_stored_one(
        kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    api = client.CoreV1Api(api_client)
    first = api.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=NAME),
                                                                    data={"k": "1"}))
    api.replace_namespaced_config_map(NAME, NS, first.model_copy(update={"data": {"k": "2"}}))
    before = stored(kube)
    with pytest.raises(client.exceptions.ApiException) as info:
        api.replace_namespaced_config_map(NAME, NS, first.model_copy(update={"data": {"k": "3"}}))
    assert info.value.status == 409
    assert stored(kube) == before
    same = api.replace_namespaced_config_map(NAME, NS, api.read_namespaced_config_map(NAME, NS))
    assert same.metadata is not None and same.metadata.resource_version == before["metadata"]["resourceVersion"]
    with pytest.raises(client.exceptions.ApiException) as missing:
        api.replace_namespaced_config_map("absent", NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="absent")))
    assert missing.value.status == 404
