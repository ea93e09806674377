"""A node pool's nodes and their health, read from the API server (``GET /api/v1/nodes``).

Conventions (what an operator's node-problem-detector or DCGM integration sets):

* ``Ready`` condition ``True`` → ready; ``spec.unschedulable`` → cordoned;
* GPUs: ``status.allocatable["nvidia.com/gpu"]`` (0 when absent);
* annotation ``forecastscale.io/unhealthy-gpus: "0,3"`` → those GPU indices are unhealthy;
* a condition ``GpuUnhealthy`` (or ``XidError``) with status ``True`` → every GPU of the node is
  unhealthy, unless the annotation names which.

Nodes are selected by the pool's ``labels`` (equality selector) and read in pages of ``page_size``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from kubernetes import client

from forecastscale.errors import TemporaryError
from forecastscale.kube.calls import call
from forecastscale.types import NodeHealth

GPU_RESOURCE = "nvidia.com/gpu"
ANNOTATION = "forecastscale.io/unhealthy-gpus"
BAD_CONDITIONS = ("GpuUnhealthy", "XidError")
MAX_PAGES = 100  # 100 pages of 500: far beyond any GPU pool; bounds the loop if a server misbehaves


def _indices(text: str, gpus: int) -> frozenset[int]:
    """``"0, 3"`` → {0, 3}; entries that are not GPU indices of this node are ignored."""
    out = {int(x) for x in (p.strip() for p in text.split(",")) if x.isascii() and x.isdigit()}
    return frozenset(i for i in out if i < gpus)


def node_health(node: Any, pool: str) -> NodeHealth:
    """:class:`NodeHealth` of a ``V1Node`` under the conventions above."""
    status = node.status
    conditions = {c.type: c.status for c in (status.conditions if status and status.conditions else [])}
    allocatable = status.allocatable if status and status.allocatable else {}
    gpus = int(str(allocatable.get(GPU_RESOURCE, "0")) or 0)
    annotations = node.metadata.annotations or {}
    # The annotation narrows a bad condition to the GPUs it names; naming none, it cannot clear it.
    bad = _indices(annotations.get(ANNOTATION, ""), gpus)
    if not bad and any(conditions.get(c) == "True" for c in BAD_CONDITIONS):
        bad = frozenset(range(gpus))
    cordoned = bool(node.spec.unschedulable) if node.spec else False
    return NodeHealth(node.metadata.name, pool, conditions.get("Ready") == "True", cordoned, gpus, bad)


class NodeLister:
    """Lists a pool's nodes through the official client (``api``: an ``ApiClient`` or ``CoreV1Api``)."""

    def __init__(self, api: client.ApiClient | client.CoreV1Api, *, request_timeout_s: float = 10.0,
                 page_size: int = 500) -> None:
        self._api = client.CoreV1Api(api) if isinstance(api, client.ApiClient) else api
        self._timeout, self._page = request_timeout_s, page_size

    def list_pool_nodes(self, pool: str, labels: Mapping[str, str]) -> list[NodeHealth]:
        """Every node carrying ``labels`` as pool ``pool``'s; failures as :mod:`forecastscale.kube.errors`."""
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        out: list[NodeHealth] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            kwargs: dict[str, Any] = {"label_selector": selector, "limit": self._page,
                                      "_request_timeout": self._timeout}
            if token:
                kwargs["_continue"] = token
            page = call(f"nodes of pool {pool}", partial(self._api.list_node, **kwargs))
            out += [node_health(n, pool) for n in page.items]
            token = page.metadata._continue if page.metadata else None
            if not token:
                return out
        # A partial list would make the pool look smaller than it is: better no reading this tick.
        raise TemporaryError(f"nodes of pool {pool}: more than {MAX_PAGES} pages of {self._page}, list not finished")
