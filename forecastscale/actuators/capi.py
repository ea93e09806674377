"""Scale a Cluster API ``MachineDeployment`` (nodes of a pool) through its ``scale`` subresource.

The subresource is served by the CRD's ``subresources.scale`` (``spec.replicas`` /
``status.replicas``) as an ``autoscaling/v1`` ``Scale``, so the read-then-write, 409 and 429
handling is the very same as for Deployments (:mod:`forecastscale.actuators._scale`); only the
client call and the body type (a plain dict from ``CustomObjectsApi``) differ.

But the scale's ``status.replicas`` counts *Machines*, which Cluster API creates at once, capacity or
not: in a GPU stockout they exist and their nodes never become Ready. So :meth:`MachineDeploymentScale.current`
also GETs the MachineDeployment itself for ``status.readyReplicas`` (:func:`ready_replicas_from_dict`), and
the live loop counts Ready nodes from that, not from the scale. Writes read and write only the scale.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

from kubernetes import client

from forecastscale.actuators._scale import DEFAULT_REQUEST_TIMEOUT_S, ScaleActuator
from forecastscale.actuators.base import ScaleState
from forecastscale.edge import shown, whole
from forecastscale.kube.calls import call
from forecastscale.kube.errors import Malformed
from forecastscale.kube.retry import RetryPolicy, Sleep

GROUP = "cluster.x-k8s.io"
DEFAULT_VERSION = "v1beta1"
PLURAL = "machinedeployments"
MAX_REPLICAS = 1_000_000  # machines of one MachineDeployment: a larger count is a misread, not a pool


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


def ready_replicas_from_dict(obj: object) -> int:
    """``status.readyReplicas`` of a MachineDeployment JSON object: its machines whose Node is Ready.

    Both served versions keep it at that path, and it is what is read for each: ``v1beta1`` counts
    machines with a Ready node; ``v1beta2`` machines whose ``Ready`` condition is true (which needs
    their Node healthy, i.e. Ready). Not read: the copy ``v1beta2`` keeps under
    ``status.deprecated.v1beta1.readyReplicas`` (deprecated, removed with v1beta1) and ``v1beta1``'s
    preview ``status.v1beta2.readyReplicas``. Absent (``v1beta2`` omits it when unset, CAPI controllers omit
    zeros, a new object has no status) reads as 0. Anything but a whole number in
    ``[0, MAX_REPLICAS]`` (a bool, a string, a float, negative, huge) raises ``ValueError`` naming the field.
    """
    if not isinstance(obj, Mapping):
        raise ValueError(f"expected a MachineDeployment object, got {type(obj).__name__}")
    status = obj.get("status")
    if status is None:
        return 0
    if not isinstance(status, Mapping):
        raise ValueError(f"status: must be an object, got {shown(status)}")
    ready = status.get("readyReplicas")
    return 0 if ready is None else whole("status.readyReplicas", ready, lo=0, hi=MAX_REPLICAS)


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

    def current(self) -> ScaleState:
        """The scale (one GET), with ``ready_replicas`` from the MachineDeployment's status (a second GET).

        A ``status.readyReplicas`` that breaks its schema raises :class:`~forecastscale.kube.errors.Malformed`."""
        state = super().current()
        return replace(state, ready_replicas=call(self.target, self._read_ready))

    def _state_for_write(self) -> ScaleState:
        return super().current()  # a write needs spec.replicas and the scale's resourceVersion only

    def _read_ready(self) -> int:
        obj = self._api.get_namespaced_custom_object(
            GROUP, self.version, self.namespace, PLURAL, self.name, _request_timeout=self._timeout,
        )
        try:
            return ready_replicas_from_dict(obj)
        except ValueError as exc:
            raise Malformed(f"{self.target}: {exc}", target=self.target, status=200) from exc

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
