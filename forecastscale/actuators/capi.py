"""Scale a Cluster API ``MachineDeployment`` (nodes of a pool) through its ``scale`` subresource.

The subresource is served by the CRD's ``subresources.scale`` (``spec.replicas`` /
``status.replicas``) as an ``autoscaling/v1`` ``Scale``, so the read-then-write, 409 and 429
handling is the very same as for Deployments (:mod:`forecastscale.actuators._scale`); only the
client call and the body type (a plain dict from ``CustomObjectsApi``) differ.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from kubernetes import client

from forecastscale.actuators._scale import DEFAULT_REQUEST_TIMEOUT_S, ScaleActuator
from forecastscale.actuators.base import ScaleState
from forecastscale.kube.retry import RetryPolicy, Sleep

GROUP = "cluster.x-k8s.io"
DEFAULT_VERSION = "v1beta1"
PLURAL = "machinedeployments"


def scale_state_from_dict(scale: object) -> ScaleState:
    """A :class:`ScaleState` from an ``autoscaling/v1`` ``Scale`` JSON dict (absent replicas read as 0).

    ``CustomObjectsApi`` returns untyped JSON; anything but an object is a broken server (``TypeError``).
    """
    if not isinstance(scale, Mapping):
        raise TypeError(f"expected a Scale object, got {type(scale).__name__}")
    spec = scale.get("spec") or {}
    status = scale.get("status") or {}
    metadata = scale.get("metadata") or {}
    return ScaleState(
        int(spec.get("replicas") or 0),
        int(status.get("replicas") or 0),
        str(metadata.get("resourceVersion") or ""),
    )


class MachineDeploymentScale(ScaleActuator):
    """Actuator for one ``MachineDeployment`` (replicas are machines, i.e. nodes).

    ``api`` is an ``ApiClient`` or a ready ``CustomObjectsApi``; ``version`` is the served
    Cluster API version. ``sleep`` (seconds) and ``request_timeout_s`` (seconds per HTTP call)
    mean the same as for :class:`~forecastscale.actuators.kubernetes.ScaleSubresource`.
    """

    def __init__(
        self,
        api: client.ApiClient | client.CustomObjectsApi,
        *,
        namespace: str,
        name: str,
        version: str = DEFAULT_VERSION,
        policy: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
        request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
    ) -> None:
        super().__init__(namespace, name, policy, sleep, request_timeout_s)
        self._api = client.CustomObjectsApi(api) if isinstance(api, client.ApiClient) else api
        self.version = version

    @property
    def target(self) -> str:
        """``"MachineDeployment <namespace>/<name>"``, the prefix of every error message."""
        return f"MachineDeployment {self.namespace}/{self.name}"

    def _read(self) -> ScaleState:
        scale = self._api.get_namespaced_custom_object_scale(
            GROUP, self.version, self.namespace, PLURAL, self.name, _request_timeout=self._timeout,
        )
        return scale_state_from_dict(scale)

    def _write(self, replicas: int, resource_version: str) -> ScaleState:
        body = {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            # resourceVersion makes the write conditional: 409 if the object moved on since the read.
            "metadata": {"name": self.name, "namespace": self.namespace, "resourceVersion": resource_version},
            "spec": {"replicas": replicas},
        }
        scale = self._api.replace_namespaced_custom_object_scale(
            GROUP, self.version, self.namespace, PLURAL, self.name, body, _request_timeout=self._timeout,
        )
        return scale_state_from_dict(scale)
