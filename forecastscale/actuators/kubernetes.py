"""Scale an ``apps/v1`` Deployment or StatefulSet through its ``scale`` subresource.

Writing the subresource (not the whole object) needs only ``get``/``update`` on
``deployments/scale`` in RBAC and cannot clobber other fields of the spec. The API client is
passed in: this module loads no kubeconfig and keeps no globals, so the same class runs against
a cluster (in-cluster config) and against the test double (``Configuration(host=...)``).
"""

from __future__ import annotations

import time
from typing import Any, Literal

from kubernetes import client

from forecastscale.actuators._scale import DEFAULT_REQUEST_TIMEOUT_S, ScaleActuator
from forecastscale.actuators.base import ScaleState
from forecastscale.kube.retry import RetryPolicy, Sleep

Kind = Literal["Deployment", "StatefulSet"]


def scale_state(scale: Any) -> ScaleState:
    """A :class:`ScaleState` from a ``V1Scale`` model (a missing ``spec.replicas`` reads as 0)."""
    spec_replicas = scale.spec.replicas if scale.spec is not None and scale.spec.replicas is not None else 0
    status_replicas = scale.status.replicas if scale.status is not None and scale.status.replicas is not None else 0
    return ScaleState(int(spec_replicas), int(status_replicas), str(scale.metadata.resource_version or ""))


class ScaleSubresource(ScaleActuator):
    """Actuator for one Deployment or StatefulSet (replicas are pods).

    ``api`` is an ``ApiClient`` or a ready ``AppsV1Api``. ``sleep`` (seconds) is called only to
    honour a 429's ``Retry-After``; tests pass a fake. ``request_timeout_s`` bounds each HTTP call
    (connect and read), so one :meth:`apply` takes at most about
    ``policy.attempts * (2 * request_timeout_s + policy.max_retry_after_s)`` seconds.
    """

    def __init__(
        self,
        api: client.ApiClient | client.AppsV1Api,
        *,
        kind: Kind,
        namespace: str,
        name: str,
        policy: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
        request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
    ) -> None:
        if kind not in ("Deployment", "StatefulSet"):
            raise ValueError(f"kind must be Deployment or StatefulSet, got {kind!r}")
        super().__init__(namespace, name, policy, sleep, request_timeout_s)
        self._api = client.AppsV1Api(api) if isinstance(api, client.ApiClient) else api
        self.kind = kind

    @property
    def target(self) -> str:
        """``"<Kind> <namespace>/<name>"``, the prefix of every error message."""
        return f"{self.kind} {self.namespace}/{self.name}"

    def _read(self) -> ScaleState:
        read = (
            self._api.read_namespaced_deployment_scale
            if self.kind == "Deployment"
            else self._api.read_namespaced_stateful_set_scale
        )
        return scale_state(read(self.name, self.namespace, _request_timeout=self._timeout))

    def _write(self, replicas: int, resource_version: str) -> ScaleState:
        body = client.V1Scale(
            api_version="autoscaling/v1",
            kind="Scale",
            # resourceVersion makes the write conditional: 409 if the object moved on since the read.
            metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace, resource_version=resource_version),
            spec=client.V1ScaleSpec(replicas=replicas),
        )
        replace = (
            self._api.replace_namespaced_deployment_scale
            if self.kind == "Deployment"
            else self._api.replace_namespaced_stateful_set_scale
        )
        return scale_state(replace(self.name, self.namespace, body, _request_timeout=self._timeout))
