"""Ready replicas per workload from Prometheus: one grouped instant query a tick for every target.

The query (``service.queries.ready_replicas``; by default kube-state-metrics'
``kube_deployment_status_replicas_ready`` and ``kube_statefulset_status_replicas_ready``, relabelled) returns one
series per workload labelled ``kind``, ``namespace`` and ``workload``. The scale subresource the service reads
says how many pods exist, not how many are Ready; this does. Every series is checked at the edge: its three
labels present, its value a finite whole count in ``[0, MAX_READY]`` (a fraction is rounded down: pods are whole).
A series that breaks a rule is left out with a line saying why; its target then falls back to counting the pods
that exist as ready, as before.
"""

from __future__ import annotations

import math
from datetime import datetime

from forecastscale.edge import shown
from forecastscale.sources.prometheus import PrometheusSource

MAX_READY = 1_000_000
Workload = tuple[str, str, str]  # (kind, namespace, workload name)
LABELS = ("kind", "namespace", "workload")


def ready_replicas(source: PrometheusSource, query: str, at: datetime) -> tuple[dict[Workload, int], list[str]]:
    """Ready pods per workload at ``at``, and one line per series left out; Prometheus errors propagate (typed)."""
    ready: dict[Workload, int] = {}
    problems: list[str] = []
    for labels, value in source.instant_series(query, at):
        key = tuple(labels.get(k, "") for k in LABELS)
        if not all(key):
            problems.append(f"ready replicas: a series without {'/'.join(LABELS)} labels: {shown(labels)}")
        elif not math.isfinite(value) or not 0 <= value <= MAX_READY:
            problems.append(f"ready replicas of {'/'.join(key)}: {shown(value)} is not a count in [0, {MAX_READY}]")
        else:
            workload = (key[0], key[1], key[2])
            ready[workload] = max(ready.get(workload, 0), math.floor(value))  # duplicates (two exporters): the most
    return ready, problems
