"""The plan ConfigMap, driven through the official ``kubernetes`` client against the API-server double."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from forecastscale.errors import PermanentError, TemporaryError
from forecastscale.kube.errors import Conflict, Forbidden, Unavailable
from forecastscale.service.plan import MAX_PLAN_BYTES, PlanCorrupt, PlanSnapshot, PlanStore, PlanTooLarge
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


def test_read_without_a_configmap_is_empty_and_unversioned(kube: ScaleApiDouble, store: PlanStore) -> None:
    assert store.read() == PlanSnapshot(None, None)
    assert kube.requests == [("GET", f"/api/v1/namespaces/{NS}/configmaps/{NAME}")]


def test_read_without_the_key_is_empty_but_versioned(kube: ScaleApiDouble, store: PlanStore) -> None:
    kube.add_object("configmaps", NS, NAME, {"data": {"other": "x"}})
    snapshot = store.read()
    assert snapshot.plan is None and snapshot.version == stored(kube)["metadata"]["resourceVersion"]


def test_write_creates_the_labelled_configmap(kube: ScaleApiDouble, store: PlanStore) -> None:
    version = store.write(PLAN, None)
    cm = stored(kube)
    assert cm["data"] == {PlanStore.KEY: json.dumps(PLAN, sort_keys=True)}
    assert cm["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "forecastscale"}
    assert (cm["apiVersion"], cm["kind"]) == ("v1", "ConfigMap") and cm["metadata"]["resourceVersion"] == version
    assert [m for m, _ in kube.requests] == ["POST"]


def test_writes_chain_on_their_own_versions_and_round_trip(kube: ScaleApiDouble, store: PlanStore,
                                                          api_client: client.ApiClient) -> None:
    first = store.write(PLAN, None)
    later = {**PLAN, "saved_at": PLAN["saved_at"] + 60}
    second = store.write(later, first)
    meta = stored(kube)["metadata"]
    assert second != first and meta["resourceVersion"] == second
    assert kube.count("PUT", "configmaps") == 1 and kube.count("POST", "configmaps") == 1
    fresh = PlanStore(client.CoreV1Api(api_client), NS, NAME)  # a new leader, its own store
    assert fresh.read() == PlanSnapshot(later, second)


def test_write_keeps_labels_and_annotations_of_others(kube: ScaleApiDouble, store: PlanStore) -> None:
    kube.add_object("configmaps", NS, NAME, {"metadata": {"labels": {"team": "ml"}, "annotations": {"a": "b"}},
                                             "data": {PlanStore.KEY: "{}"}})
    store.write(PLAN, store.read().version)
    meta = stored(kube)["metadata"]
    assert meta["labels"] == {"team": "ml", "app.kubernetes.io/managed-by": "forecastscale"}
    assert meta["annotations"] == {"a": "b"}


def test_a_write_on_a_stale_version_is_refused_and_never_retried(kube: ScaleApiDouble, store: PlanStore) -> None:
    """The version is the fencing token: a former leader's write must not land over its successor's plan."""
    mine = store.write(PLAN, None)
    successor = PlanStore(store._api, NS, NAME)
    successor.write({"version": 2, "targets": {}}, successor.read().version)
    with pytest.raises(Conflict) as info:
        store.write({**PLAN, "saved_at": 0.0}, mine)
    assert isinstance(info.value, TemporaryError) and info.value.status == 409
    assert str(info.value).startswith(f"ConfigMap {NS}/{NAME}: HTTP 409 Conflict")
    assert json.loads(stored(kube)["data"][PlanStore.KEY]) == {"version": 2, "targets": {}}  # theirs kept
    assert kube.count("PUT", "configmaps") == 2  # one each: the refused write was not retried


def test_a_create_racing_another_create_is_a_conflict(kube: ScaleApiDouble, store: PlanStore) -> None:
    PlanStore(store._api, NS, NAME).write({"version": 2}, None)
    with pytest.raises(Conflict):
        store.write(PLAN, None)
    assert json.loads(stored(kube)["data"][PlanStore.KEY]) == {"version": 2}


def test_403_on_write_raises_forbidden_unretried(kube: ScaleApiDouble, store: PlanStore) -> None:
    kube.add_object("configmaps", NS, NAME, {"data": {PlanStore.KEY: "{}"}})
    kube.fail(Fault(403, method="PUT", times=10, resource="configmaps"))
    with pytest.raises(Forbidden, match=rf'ConfigMap {NS}/{NAME}: HTTP 403 Forbidden: configmaps "{NAME}"'):
        store.write(PLAN, store.read().version)
    assert kube.count("PUT", "configmaps") == 1  # permanent: not retried


@pytest.mark.parametrize(("status", "error"), [(403, Forbidden), (503, Unavailable)], ids=["403", "503"])
def test_errors_on_read_propagate_typed(kube: ScaleApiDouble, store: PlanStore, status: int,
                                       error: type[Exception]) -> None:
    kube.fail(Fault(status, method="GET", resource="configmaps"))
    with pytest.raises(error):
        store.read()


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "is unusable: not valid JSON"),
    ("[1, 2]", "holds a JSON list, not an object"),
    ("", "not valid JSON"),
    ('{"a": NaN}', "NaN is not a JSON number"),
    ("[" * 5000 + "]" * 5000, "nested 5000 levels deep"),
    ('{"a": 1' + "0" * 400 + "}", "a number of 401 characters"),
], ids=["not-json", "a-list", "empty", "nan", "deep", "401-digits"])
def test_a_corrupt_plan_is_reported_with_its_version_naming_the_configmap(kube: ScaleApiDouble, store: PlanStore,
                                                                        text: str, message: str) -> None:
    kube.add_object("configmaps", NS, NAME, {"data": {PlanStore.KEY: text}})
    snapshot = store.read()
    assert snapshot.plan is None and snapshot.version == stored(kube)["metadata"]["resourceVersion"]
    assert snapshot.corrupt is not None and snapshot.corrupt.startswith(f"ConfigMap {NS}/{NAME}: key plan.json")
    assert message in snapshot.corrupt and len(snapshot.corrupt) < 400  # never the whole text
    with pytest.raises(PlanCorrupt) as info:
        store.load()
    assert isinstance(info.value, PermanentError) and info.value.target == f"ConfigMap {NS}/{NAME}"


def test_an_oversized_plan_is_refused_before_any_request(kube: ScaleApiDouble, store: PlanStore) -> None:
    big = {"blob": "x" * MAX_PLAN_BYTES}
    with pytest.raises(PlanTooLarge, match=r"ConfigMap default/forecastscale-plan: the plan is 921,") as info:
        store.write(big, None)
    assert isinstance(info.value, PermanentError) and info.value.size > MAX_PLAN_BYTES
    assert kube.requests == []
    store.write({"blob": "x" * (MAX_PLAN_BYTES - 100)}, None)  # just under the guard: stored
    assert len(stored(kube)["data"][PlanStore.KEY]) <= MAX_PLAN_BYTES


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
