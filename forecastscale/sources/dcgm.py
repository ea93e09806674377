"""Unhealthy GPUs from the NVIDIA DCGM exporter, through Prometheus.

The query (``service.queries.gpu_health``) returns one series per unhealthy GPU, as the DCGM
exporter labels its metrics: ``Hostname`` (the node; ``node`` or ``kubernetes_node`` when a
relabelling renamed it) and ``gpu`` (the index), e.g. ``DCGM_FI_DEV_XID_ERRORS > 0`` or
``increase(DCGM_FI_DEV_XID_ERRORS[10m]) > 0``. A series with a zero or non-finite value, or
without a node name (at most 253 characters, as Kubernetes allows) or a GPU index (1–3 ASCII digits),
is not counted (it cannot be placed on a node). The answer itself is checked by
:meth:`PrometheusSource.instant_series`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from forecastscale.sources.prometheus import PrometheusSource

NODE_LABELS = ("Hostname", "node", "kubernetes_node")
MAX_NODE_CHARS = 253  # a Kubernetes node name is a DNS subdomain
# str.isdigit() also takes "²" (int() refuses it) and 5,000 digits (int() refuses those too).
_GPU_INDEX = re.compile(r"[0-9]{1,3}")


def _node(labels: Mapping[str, str]) -> str | None:
    node = next((labels[k] for k in NODE_LABELS if labels.get(k)), None)
    return node if node is not None and len(node) <= MAX_NODE_CHARS else None


def unhealthy_gpus(source: PrometheusSource, query: str, at_s: float) -> dict[str, frozenset[int]]:
    """Node name → indices of its GPUs that ``query`` reports unhealthy at ``at_s`` (UNIX seconds)."""
    out: dict[str, set[int]] = {}
    for labels, value in source.instant_series(query, datetime.fromtimestamp(at_s, tz=UTC)):
        node, gpu = _node(labels), labels.get("gpu", "")
        if node is None or not _GPU_INDEX.fullmatch(gpu) or not math.isfinite(value) or value == 0:
            continue
        out.setdefault(node, set()).add(int(gpu))
    return {n: frozenset(g) for n, g in out.items()}
