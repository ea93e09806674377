"""Build a :class:`~forecastscale.service.core.Service` from config and command-line choices.

The only place that knows which adapter serves which part: Prometheus source, scale actuators
(real, or wrapped in :class:`~forecastscale.actuators.dryrun.DryRun`), Lease elector and plan
ConfigMap. Everything is passed in (API client, clock, registry), so tests build fresh ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from kubernetes import client
from kubernetes import config as kube_config
from prometheus_client import CollectorRegistry

from forecastscale.actuators.base import Actuator
from forecastscale.actuators.capi import MachineDeploymentScale
from forecastscale.actuators.dryrun import DryRun
from forecastscale.actuators.kubernetes import ScaleSubresource
from forecastscale.config import Config, NodePool, Target
from forecastscale.errors import ConfigError
from forecastscale.service.core import Service
from forecastscale.service.leader import LeaseElector, LeaseSettings
from forecastscale.service.metrics import ServiceMetrics
from forecastscale.service.plan import PlanStore
from forecastscale.sources.prometheus import PrometheusSource


def kube_client(kubeconfig: Path | None, in_cluster: bool) -> client.ApiClient:
    """An API client from the pod's service account (``in_cluster``) or a kubeconfig file
    (``None``: ``$KUBECONFIG`` or ``~/.kube/config``); :class:`ConfigError` if neither works."""
    try:
        if in_cluster:
            configuration = client.Configuration()
            kube_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            return client.ApiClient(configuration)
        api: client.ApiClient = kube_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig) if kubeconfig else None)
        return api
    except (kube_config.ConfigException, OSError) as exc:
        where = "in-cluster config" if in_cluster else f"kubeconfig {kubeconfig or '(default)'}"
        raise ConfigError(where, [f"cannot load Kubernetes credentials: {exc}"]) from exc


def _workload(api: client.ApiClient | None, target: Target, dry_run: bool) -> Actuator:
    ref = target.workload_ref()
    real = None if api is None else ScaleSubresource(api, kind=ref.kind, namespace=ref.namespace, name=ref.name)
    if dry_run:
        return DryRun(f"{ref.kind} {ref.namespace}/{ref.name}", real, initial=target.min_replicas)
    assert real is not None, "a live run needs a Kubernetes client"
    return real


def _nodes(api: client.ApiClient | None, pool: NodePool, dry_run: bool) -> Actuator | None:
    ref = pool.machine_deployment
    if ref is None or api is None:
        return None
    real = MachineDeploymentScale(api, namespace=ref.namespace, name=ref.name)
    return DryRun(real.target, real) if dry_run else real


def build_service(config: Config, *, prometheus_url: str, api: client.ApiClient | None, dry_run: bool,
                  registry: CollectorRegistry, identity: str, clock: Callable[[], float] = time.time,
                  monotonic: Callable[[], float] = time.monotonic) -> Service:
    """The service for ``config``; ``api`` None is allowed only with ``dry_run`` (no cluster at all)."""
    if api is None and not dry_run:
        raise ConfigError("run", ["a Kubernetes client is required unless --dry-run"])
    missing = [f"targets[{i}].demand_query: required by run (or set service.queries.demand)"
               for i, t in enumerate(config.targets) if config.query(t, "demand") is None]
    if missing:
        raise ConfigError("run", missing)
    s = config.service
    source = PrometheusSource(prometheus_url, timeout_s=s.query_timeout_s)
    actuators = {t.name: _workload(api, t, dry_run) for t in config.targets}
    pools = {p.name: a for p in config.node_pools if (a := _nodes(api, p, dry_run)) is not None}
    elector = plan = None
    if api is not None:
        plan = PlanStore(api, s.namespace, s.plan_configmap)
        le = s.leader_election
        if le.enabled:
            settings = LeaseSettings(le.lease_name, s.namespace, identity, le.lease_duration_s,
                                     le.renew_deadline_s, le.retry_period_s)
            elector = LeaseElector(api, settings, clock=monotonic)
    return Service(config, source, actuators, ServiceMetrics(registry), pool_actuators=pools, clock=clock,
                   elector=elector, plan=plan, dry_run=dry_run)
