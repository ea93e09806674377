"""PromQL query templates: a target's own (``targets[].queries``) and the service's defaults
(``service.queries``). ``$target``, ``$namespace`` and ``$workload`` are filled in per target; a template
using any other variable, or a lone ``$``, is refused when the config is read, not at the first tick."""

from __future__ import annotations

from string import Template
from typing import Literal

from pydantic import Field, field_validator

from forecastscale.config.base import _Model

TEMPLATE_VARIABLES = ("target", "namespace", "workload")
QueryKind = Literal["demand", "queue", "gpu_utilisation", "kv_cache"]


def template_problem(text: str) -> str | None:
    """Why ``text`` is not a usable query template, or None."""
    try:
        Template(text).substitute(dict.fromkeys(TEMPLATE_VARIABLES, "x"))
    except KeyError as exc:
        return f"unknown variable ${exc.args[0]}; have " + ", ".join(f"${v}" for v in TEMPLATE_VARIABLES)
    except ValueError as exc:
        return f"bad template ({exc}); write $$ for a literal $"
    return None


class Queries(_Model):
    """PromQL templates returning one series each; a target's unset ones fall back to ``service.queries``."""

    demand: str | None = Field(default=None, description="demand in the workload's demand_unit (before "
                               "workload.demand_scale); decided on")
    queue: str | None = Field(default=None, description="requests waiting (exported, logged; queue metrics)")
    gpu_utilisation: str | None = Field(default=None, description="GPU utilisation in % (exported, logged)")
    kv_cache: str | None = Field(default=None, description="KV cache in use in %, 0–100 (exported, logged; vLLM "
                                 "reports a 0–1 fraction: multiply by 100 in the query)")

    @field_validator("demand", "queue", "gpu_utilisation", "kv_cache")
    @classmethod
    def _template(cls, text: str | None) -> str | None:
        if text is not None and (why := template_problem(text)) is not None:
            raise ValueError(why)
        return text


# Every Deployment's and StatefulSet's Ready pods (kube-state-metrics), one series per workload labelled by kind,
# namespace and workload: one query a tick for all targets.
READY_REPLICAS = (
    'max by (kind, namespace, workload) (label_replace(label_replace(kube_deployment_status_replicas_ready, '
    '"workload", "$1", "deployment", "(.+)"), "kind", "Deployment", "__name__", ".*")) or '
    'max by (kind, namespace, workload) (label_replace(label_replace(kube_statefulset_status_replicas_ready, '
    '"workload", "$1", "statefulset", "(.+)"), "kind", "StatefulSet", "__name__", ".*"))')


class ServiceQueries(Queries):
    """Default templates for targets that set none, the pools' GPU-health query and the ready-replicas query."""

    gpu_health: str | None = Field(default=None, description="instant PromQL, one series per unhealthy GPU labelled "
                                   "by node and gpu (e.g. DCGM_FI_DEV_XID_ERRORS > 0); not a template")
    ready_replicas: str | None = Field(default=READY_REPLICAS, description="instant PromQL, one series per "
                                       "workload labelled kind (Deployment/StatefulSet), namespace and workload: "
                                       "its Ready pods (default: kube-state-metrics); not a template. A target "
                                       "without a series counts its created pods as ready (said in the log); "
                                       "null: never asked")
