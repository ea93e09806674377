"""Build a :class:`~forecastscale.service.core.Service` from config and command-line choices.

The only place that knows which adapter serves which part: Prometheus source, scale actuators
(real, or wrapped in :class:`~forecastscale.actuators.dryrun.DryRun`), Lease elector and plan
ConfigMap. Everything is passed in (API client, clock, registry), so tests build fresh ones.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes import config as kube_config
from prometheus_client import CollectorRegistry

from forecastscale.actuators.balloon import BalloonPool
from forecastscale.actuators.base import Actuator
from forecastscale.actuators.capi import MachineDeploymentScale
from forecastscale.actuators.dryrun import DryRun
from forecastscale.actuators.kubernetes import ScaleSubresource
from forecastscale.config import Config, NodePool, Target
from forecastscale.errors import ConfigError
from forecastscale.policy.spill import alternatives
from forecastscale.service.core import Service
from forecastscale.service.events_api import PREFIX, TokenFile, make_events_app
from forecastscale.service.health import HealthWatch
from forecastscale.service.http import StartResponse, WsgiApp
from forecastscale.service.leader import LeaseElector, LeaseSettings
from forecastscale.service.metrics import ServiceMetrics
from forecastscale.service.plan import PlanStore
from forecastscale.sources.dcgm import unhealthy_gpus
from forecastscale.sources.kube_nodes import NodeLister
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
    ref = target.workload
    real = None if api is None else ScaleSubresource(api, kind=ref.kind, namespace=ref.namespace, name=ref.name)
    if dry_run:
        return DryRun(f"{ref.kind} {ref.namespace}/{ref.name}", real, initial=target.scaling.min_replicas)
    assert real is not None, "a live run needs a Kubernetes client"
    return real


def _balloon(api: client.ApiClient, pool: NodePool) -> BalloonPool:
    """One whole-node headroom pod per spare node: on the pool's labels, tolerating its taints."""
    b = pool.balloon
    assert b is not None
    tolerations = [{"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect} for t in pool.taints]
    return BalloonPool(api, namespace=b.namespace, name=b.name or f"forecastscale-balloon-{pool.name}",
                       pool=pool.name, gpus_per_pod=pool.gpus_per_node, cpu="100m", memory="64Mi",
                       node_selector=dict(pool.labels), tolerations=tolerations, priority_class=b.priority_class,
                       priority_value=b.priority_value, image=b.image)


def _nodes(api: client.ApiClient | None, pool: NodePool, dry_run: bool) -> Actuator | None:
    if api is None or (pool.machine_deployment is None and pool.balloon is None):
        return None
    ref = pool.machine_deployment
    real = _balloon(api, pool) if ref is None else MachineDeploymentScale(api, namespace=ref.namespace, name=ref.name)
    return DryRun(real.target, real) if dry_run else real


def build_service(config: Config, *, prometheus_url: str, api: client.ApiClient | None, dry_run: bool,
                  registry: CollectorRegistry, identity: str, clock: Callable[[], float] = time.time,
                  monotonic: Callable[[], float] = time.monotonic) -> Service:
    """The service for ``config``; ``api`` None is allowed only with ``dry_run`` (no cluster at all)."""
    if api is None and not dry_run:
        raise ConfigError("run", ["a Kubernetes client is required unless --dry-run"])
    missing = [f"targets[{i}].queries.demand: required by run (or set service.queries.demand)"
               for i, t in enumerate(config.targets) if config.query(t, "demand") is None]
    if missing:
        raise ConfigError("run", missing)
    s = config.service
    source = PrometheusSource(prometheus_url, timeout_s=s.query_timeout_s)
    actuators = {t.name: _workload(api, t, dry_run) for t in config.targets}
    actuators |= {key: _workload(api, alt, dry_run) for key, (alt, _) in alternatives(config).items()}
    pools = {p.name: a for p in config.node_pools if (a := _nodes(api, p, dry_run)) is not None}
    elector = plan = None
    if api is not None:
        plan = PlanStore(api, s.namespace, s.plan_configmap)
        le = s.leader_election
        if le.enabled:
            settings = LeaseSettings(le.lease_name, s.namespace, identity, le.lease_duration_s,
                                     le.renew_deadline_s, le.retry_period_s)
            elector = LeaseElector(api, settings, clock=monotonic)
    metrics = ServiceMetrics(registry)
    return Service(config, source, actuators, metrics, pool_actuators=pools, clock=clock, elector=elector,
                   plan=plan, dry_run=dry_run, health=_health(config, api, source, metrics), identity=identity)


def _health(config: Config, api: client.ApiClient | None, source: PrometheusSource,
            metrics: ServiceMetrics) -> HealthWatch | None:
    """Health-aware capacity when a pool asks for it (and there is a cluster to read nodes from)."""
    if api is None or not any(p.health.enabled for p in config.node_pools):
        return None
    query = config.service.queries.gpu_health
    bad = None if query is None else partial(unhealthy_gpus, source, query)
    return HealthWatch(config, NodeLister(api).list_pool_nodes, bad, metrics)


def events_mount(config: Config, service: Service) -> dict[str, WsgiApp]:
    """``{"/v1/events": app}`` when ``service.webhook_token_file`` is set, else nothing.

    Only the leader accepts changes (POST, DELETE, in any letter case): it writes them to the plan
    ConfigMap before answering, so they survive a failover. A standby answers 503 with
    ``Retry-After: 1`` at once; the Kubernetes Service spreads the retry over the replicas and it
    reaches the leader. (A leader that loses the Lease mid-request is fenced at the write: 503 too.)
    """
    path = config.service.webhook_token_file
    if path is None:
        return {}
    inner = make_events_app(service.events, TokenFile(path), service.clock, [t.name for t in config.targets])

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if str(environ.get("REQUEST_METHOD", "GET")).upper() in ("POST", "DELETE") and not service.leader:
            body = json.dumps({"error": "not the leader: retry (the Service routes to another replica)"}).encode()
            start_response("503 Service Unavailable", [("Content-Type", "application/json"), ("Retry-After", "1"),
                                                      ("Content-Length", str(len(body)))])
            return [body]
        return inner(environ, start_response)

    return {PREFIX: app}
