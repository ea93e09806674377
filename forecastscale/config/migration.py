"""Config format 2 groups a target's fields into sections; a target in the flat form of before is refused
with the new place of each of its old keys, all at once, so the file can be fixed in one pass::

    targets[0].capacity_per_replica: moved to targets[0].workload.capacity_per_replica (config format 2; ...)

Only the keys below are taken as the old form: any other unknown key stays an "unknown field" error.
``name``, ``forecast`` and ``workload`` kept their place (``workload`` gained fields next to kind, name and
namespace).
"""

from __future__ import annotations

from typing import Any

FORMAT = 2
NOTE = f'(config format {FORMAT}; see README "Configuration")'

# Old flat key of a target → its path inside the target since format 2.
MOVED: dict[str, str] = {
    "capacity_per_replica": "workload.capacity_per_replica",
    "demand_unit": "workload.demand_unit",
    "demand_scale": "workload.demand_scale",
    "pod_startup_s": "workload.pod_startup_s",
    "gpus_per_pod": "workload.gpus_per_pod",
    "cpu": "workload.cpu",
    "memory_gib": "workload.memory_gib",
    "max_wait_s": "workload.max_wait_s",
    "target_utilisation": "scaling.target_utilisation",
    "tolerance": "scaling.tolerance",
    "min_replicas": "scaling.min_replicas",
    "max_replicas": "scaling.max_replicas",
    "behavior": "scaling.behavior",
    "metrics": "scaling.metrics",
    "fallback_replicas": "scaling.fallback_replicas",
    "burst": "scaling.burst",
    "demand_query": "queries.demand",
    "queue_query": "queries.queue",
    "gpu_utilisation_query": "queries.gpu_utilisation",
    "node_pool": "scheduling.node_pool",
    "node_selector": "scheduling.node_selector",
    "affinity": "scheduling.affinity",
    "tolerations": "scheduling.tolerations",
    "share": "scheduling.share",
    "schedules": "events.cron",
    "trace": "backtest.trace",
}


def moved_keys(data: Any) -> list[str]:
    """One line per old flat key of any target in ``data`` (a parsed config), in file order: where it went."""
    targets = data.get("targets") if isinstance(data, dict) else None
    if not isinstance(targets, list):
        return []
    return [f"targets[{i}].{key}: moved to targets[{i}].{MOVED[key]} {NOTE}"
            for i, target in enumerate(targets) if isinstance(target, dict)
            for key in target if isinstance(key, str) and key in MOVED]
