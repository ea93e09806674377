"""Headroom ("balloon") pods: keep spare GPU nodes in a node pool ahead of demand.

Cluster Autoscaler and Karpenter add nodes only for pods that cannot be scheduled. To have N
spare GPU nodes *before* the demand arrives, :class:`BalloonPool` runs a Deployment of ``pause``
pods that each request GPUs at a negative priority: while there is room they sit on free GPUs,
otherwise they stay pending and the node autoscaler adds nodes for them. A real workload pod
(priority 0 or more) preempts them at once, and the evicted balloons go pending again and so ask
for the next nodes. The balloons' own PriorityClass has ``preemptionPolicy: Never``, so a balloon
never evicts anything itself.

Replicas are balloon pods; the service makes each as big as a node (``gpus_per_pod`` =
``gpus_per_node``), so one pod holds one spare node. The first
:meth:`~BalloonPool.apply` creates the PriorityClass and the Deployment; later ones scale the
Deployment through its ``scale`` subresource with the same read-compare-write, 409 and 429
handling as every other actuator (:mod:`forecastscale.actuators._scale`). An existing Deployment's
pod template is never rewritten: to change the pod shape, delete the Deployment and let the next
``apply`` create it anew.

RBAC: ``get``/``update`` on ``deployments/scale`` and ``create`` on ``deployments`` in the
namespace, ``create``/``get`` on ``priorityclasses`` (a ClusterRole: they are cluster-scoped).
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from forecastscale.actuators._scale import DEFAULT_REQUEST_TIMEOUT_S
from forecastscale.actuators.base import ScaleState
from forecastscale.actuators.kubernetes import ScaleSubresource
from forecastscale.kube.calls import call
from forecastscale.kube.errors import NotFound, Rejected
from forecastscale.kube.retry import RetryPolicy, Sleep

DEFAULT_PRIORITY_CLASS = "forecastscale-balloon"
DEFAULT_PRIORITY_VALUE = -10
DEFAULT_IMAGE = "registry.k8s.io/pause:3.10"
GPU_RESOURCE = "nvidia.com/gpu"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "forecastscale"
POOL_LABEL = "forecastscale.io/balloon-pool"
PAUSE_UID = 65535  # the "nobody" user the pause image is built to run as
MIN_PRIORITY = -2_147_483_648  # PriorityClass.value is an int32
# A label value: at most 63 characters, alphanumeric at both ends, "-", "_" and "." inside.
_LABEL_VALUE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")


class BalloonPool(ScaleSubresource):
    """Actuator for the balloon Deployment ``namespace/name`` of node pool ``pool`` (replicas are balloon pods).

    Each pod requests and limits ``gpus_per_pod`` GPUs (``gpu_resource``) and requests ``cpu`` and
    ``memory`` (Kubernetes quantities, e.g. ``"100m"``, ``"64Mi"``; keep them small so GPUs are what
    fills a node), and lands only where ``node_selector`` and ``tolerations`` let it (the pool's
    nodes). Pods run at ``priority_value`` (< 0) through the PriorityClass ``priority_class``;
    an existing class of that name is used as it is, unless its value is not negative (then the
    balloons would block rather than yield: :class:`~forecastscale.kube.errors.Rejected`).

    :meth:`current` of a Deployment that does not exist yet is ``ScaleState(0, 0, "")`` (an empty
    ``resource_version`` means "not created"); :meth:`apply` creates it (PATCHED, from 0) unless
    the target is 0. ``policy``, ``sleep`` and ``request_timeout_s`` are those of
    :class:`~forecastscale.actuators.kubernetes.ScaleSubresource`. Settings that could never work
    (a non-negative priority, no GPUs, a pool name that is not a label value, a malformed toleration)
    raise ``ValueError`` here rather than on the first write.
    """

    def __init__(
        self,
        api: client.ApiClient,
        *,
        namespace: str,
        name: str,
        pool: str,
        gpus_per_pod: int,
        cpu: str,
        memory: str,
        node_selector: Mapping[str, str],
        tolerations: Sequence[Mapping[str, Any]],
        priority_class: str = DEFAULT_PRIORITY_CLASS,
        priority_value: int = DEFAULT_PRIORITY_VALUE,
        image: str = DEFAULT_IMAGE,
        gpu_resource: str = GPU_RESOURCE,
        policy: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
        request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
    ) -> None:
        if not _LABEL_VALUE.fullmatch(pool):
            raise ValueError(f"pool must be a valid label value (<= 63 characters, [A-Za-z0-9-_.]), got {pool!r}")
        if gpus_per_pod < 1:
            raise ValueError(f"gpus_per_pod must be >= 1, got {gpus_per_pod}")
        if not MIN_PRIORITY <= priority_value < 0:
            raise ValueError(f"priority_value must be negative (below the default 0), got {priority_value}")
        if not cpu or not memory or not image or not priority_class:
            raise ValueError("cpu, memory, image and priority_class must not be empty")
        super().__init__(api, kind="Deployment", namespace=namespace, name=name, policy=policy, sleep=sleep,
                         request_timeout_s=request_timeout_s)
        self._scheduling = client.SchedulingV1Api(api)
        self.pool = pool
        self.gpus_per_pod = gpus_per_pod
        self.cpu = cpu
        self.memory = memory
        self.node_selector = dict(node_selector)
        # Checked now (pydantic's ValidationError is a ValueError) so a typo fails at start-up, not on a write.
        self.tolerations = [copy.deepcopy(dict(t)) for t in tolerations]
        for toleration in self.tolerations:
            client.V1Toleration.model_validate(toleration)
        self.priority_class = priority_class
        self.priority_value = priority_value
        self.image = image
        self.gpu_resource = gpu_resource
        self._priority_class_ready = False  # ensured once per instance, before its first write

    @property
    def labels(self) -> dict[str, str]:
        """The labels of the Deployment and its pods (the selector too)."""
        return {MANAGED_BY_LABEL: MANAGED_BY, POOL_LABEL: self.pool}

    def current(self) -> ScaleState:
        """One GET of the scale subresource; a missing Deployment reads as ``ScaleState(0, 0, "")``."""
        try:
            return super().current()
        except NotFound:
            return ScaleState(0, 0, "")

    # --- the objects -------------------------------------------------------------------------------
    def priority_class_body(self) -> dict[str, Any]:
        """The ``scheduling.k8s.io/v1`` PriorityClass: below every default-priority pod, preempting nothing."""
        return {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": self.priority_class, "labels": {MANAGED_BY_LABEL: MANAGED_BY}},
            "value": self.priority_value,
            "globalDefault": False,
            "preemptionPolicy": "Never",  # a balloon waits for a new node; it never evicts anything
            "description": "forecastscale headroom (balloon) pods: preempted by any workload, never preempting.",
        }

    def deployment_body(self, replicas: int) -> dict[str, Any]:
        """The ``apps/v1`` Deployment of ``replicas`` balloon pods."""
        gpus = str(self.gpus_per_pod)
        pod_spec: dict[str, Any] = {
            "priorityClassName": self.priority_class,
            "terminationGracePeriodSeconds": 0,  # make way for the real workload at once
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "pause",
                "image": self.image,
                "imagePullPolicy": "IfNotPresent",
                "resources": {
                    # An extended resource must be limited to exactly what is requested.
                    "requests": {self.gpu_resource: gpus, "cpu": self.cpu, "memory": self.memory},
                    "limits": {self.gpu_resource: gpus},
                },
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": PAUSE_UID,
                    "runAsGroup": PAUSE_UID,
                    "allowPrivilegeEscalation": False,
                    "privileged": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
            }],
        }
        if self.node_selector:
            pod_spec["nodeSelector"] = dict(self.node_selector)
        if self.tolerations:
            pod_spec["tolerations"] = copy.deepcopy(self.tolerations)
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": self.labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": self.labels},
                "template": {"metadata": {"labels": self.labels}, "spec": pod_spec},
            },
        }

    # --- writes --------------------------------------------------------------------------------------
    def _write(self, replicas: int, resource_version: str) -> ScaleState:
        """Create the Deployment (``resource_version`` empty: it did not exist) or PUT its scale.

        A create that finds the Deployment already there (409 ``AlreadyExists``: someone created it
        since our read) is a :class:`~forecastscale.kube.errors.Conflict`, so the retry loop
        re-reads and scales it instead.
        """
        self._ensure_priority_class()
        if resource_version:
            return super()._write(replicas, resource_version)
        body = client.V1Deployment.model_validate(self.deployment_body(replicas))
        created = self._api.create_namespaced_deployment(self.namespace, body, _request_timeout=self._timeout)
        spec_replicas = created.spec.replicas if created.spec is not None else None
        status_replicas = created.status.replicas if created.status is not None else None
        version = created.metadata.resource_version if created.metadata is not None else None
        return ScaleState(int(spec_replicas or 0), int(status_replicas or 0), str(version or ""))

    def _ensure_priority_class(self) -> None:
        """Create the PriorityClass unless it exists (then check it is negative); once per instance.

        Done before the first write rather than at creation only, so that a class deleted since
        (pods naming a missing class are refused at admission) comes back on the next restart.
        """
        if self._priority_class_ready:
            return
        target = f"PriorityClass {self.priority_class}"

        def create_or_read() -> Any:
            try:
                body = client.V1PriorityClass.model_validate(self.priority_class_body())
                self._scheduling.create_priority_class(body, _request_timeout=self._timeout)
            except ApiException as exc:
                if exc.status != 409:
                    raise
                return self._scheduling.read_priority_class(self.priority_class, _request_timeout=self._timeout)
            return None

        existing = call(target, create_or_read)
        if existing is not None and (existing.value is None or existing.value >= 0):
            raise Rejected(
                f"{target}: HTTP 409 AlreadyExists: it exists with value {existing.value}, not below the default "
                "priority 0, so balloon pods would not yield to the workloads; give the pool another priority class",
                target=target, status=409, reason="AlreadyExists",
            )
        self._priority_class_ready = True
