"""BalloonPool's settings and bodies, without a server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from forecastscale.actuators.balloon import BalloonPool


@pytest.fixture
def api() -> Iterator[client.ApiClient]:
    with client.ApiClient(client.Configuration(host="http://127.0.0.1:9")) as api:  # never called
        yield api


def make(api: client.ApiClient, **overrides: Any) -> BalloonPool:
    settings: dict[str, Any] = {
        "namespace": "ns", "name": "forecastscale-balloon-h100", "pool": "h100", "gpus_per_pod": 4, "cpu": "50m",
        "memory": "32Mi", "node_selector": {"pool": "h100"}, "tolerations": [{"key": "gpu", "operator": "Exists"}],
    }
    return BalloonPool(api, **(settings | overrides))


@pytest.mark.parametrize(("overrides", "message"), [
    pytest.param({"priority_value": 0}, "priority_value must be negative", id="zero-priority"),
    pytest.param({"priority_value": 5}, "priority_value must be negative", id="positive-priority"),
    pytest.param({"gpus_per_pod": 0}, "gpus_per_pod must be >= 1", id="no-gpus"),
    pytest.param({"pool": "not a label!"}, "pool must be a valid label value", id="bad-pool-label"),
    pytest.param({"pool": "x" * 64}, "pool must be a valid label value", id="pool-label-too-long"),
    pytest.param({"cpu": ""}, "must not be empty", id="empty-cpu"),
    pytest.param({"tolerations": [{"key": "gpu", "operatr": "Exists"}]}, "operatr", id="toleration-typo"),
])
def test_bad_settings_fail_at_construction(api: client.ApiClient, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(api, **overrides)


def test_bodies(api: client.ApiClient) -> None:
    pool = make(api, gpu_resource="amd.com/gpu", priority_class="low", priority_value=-100, node_selector={},
                tolerations=[])
    priority_class = pool.priority_class_body()
    assert (priority_class["metadata"]["name"], priority_class["value"]) == ("low", -100)
    assert (priority_class["preemptionPolicy"], priority_class["globalDefault"]) == ("Never", False)
    body = pool.deployment_body(7)
    assert body["spec"]["replicas"] == 7
    pod = body["spec"]["template"]["spec"]
    assert "nodeSelector" not in pod and "tolerations" not in pod  # empty: left out
    assert pod["containers"][0]["resources"]["limits"] == {"amd.com/gpu": "4"}
    assert pool.deployment_body(7) == body and pool.deployment_body(7) is not body  # a fresh dict each time
    # The official client takes both bodies as they are (field names and types).
    assert api.sanitize_for_serialization(client.V1Deployment.model_validate(body)) == body
    assert api.sanitize_for_serialization(client.V1PriorityClass.model_validate(priority_class)) == priority_class
