"""For the same inputs, the live tick and the backtest's step decide alike: per target replicas, per pool nodes.

Two targets (1- and 2-GPU pods) on two pools; the first pool is small, keeps a spare node and has a GPU marked
unhealthy; demand is high enough to fill it and spill into the second. Live: the real service (real Prometheus,
the official client against the API-server double: Deployments, MachineDeployments, Nodes for the health
check). Backtest: the same series read from a CSV as a trace, the pool-level simulator seeded with the same
pods and nodes and a health fault of one GPU, one step of the backtest loop. Both end in
:func:`forecastscale.policy.fleet.decide_fleet`; before it, the backtest sized nodes with its own ceiling
(no headroom, no packing, no health) and shared pools by other rules, so these could not be equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubernetes import client

from forecastscale.backtest import loop
from forecastscale.backtest.cluster import Fault, FleetSimulator
from forecastscale.backtest.runner import build_scenario, make_policy
from forecastscale.config import Config, parse_config
from forecastscale.policy.base import PolicyHistory
from forecastscale.policy.fleet import FleetState
from forecastscale.sources.csvtrace import load_trace
from tests.integration.conftest import PrometheusServer
from tests.integration.kube.apiserver import ScaleApiDouble
from tests.integration.service.helpers import chat_target, service_config
from tests.integration.service.test_faults import Clock, build

FAST_UP = {"scale_up": {"stabilization_window_seconds": 0,
                        "policies": [{"type": "Pods", "value": 100, "period_seconds": 15}]}}
CURRENT = {"chat": 2, "batch": 2}
NODES = {"a100": 2, "h100": 1}


def _config() -> dict[str, Any]:
    on_a100 = {"scaling": {"behavior": FAST_UP}, "scheduling": {"node_pool": "a100"}}
    targets = [chat_target(workload={"capacity_per_replica": 0.25}, **on_a100),
               chat_target(name="batch", workload={"kind": "Deployment", "name": "batch", "namespace": "default",
                                                   "capacity_per_replica": 0.2, "gpus_per_pod": 2}, **on_a100)]
    data = service_config(targets, policy="reactive")
    data["node_pools"] = [
        {"name": "a100", "gpus_per_node": 8, "max_nodes": 3, "headroom_nodes": 1, "labels": {"pool": "a100"},
         "health": {"enabled": True}, "machine_deployment": {"name": "a100-md", "namespace": "default"}},
        {"name": "h100", "gpus_per_node": 8, "max_nodes": 8, "machine_deployment": {"name": "h100-md",
                                                                                 "namespace": "default"}},
    ]
    return data


def _live(prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient,
          data: dict[str, Any], now: float) -> tuple[dict[str, int], dict[str, int]]:
    for name, n in CURRENT.items():
        kube.add("deployments", "default", name, replicas=n)
    for pool, n in NODES.items():
        kube.add("machinedeployments", "default", f"{pool}-md", replicas=n)
    kube.add_node("a1", {"pool": "a100"})
    kube.add_node("a2", {"pool": "a100"}, annotations={"forecastscale.io/unhealthy-gpus": "0"})
    service = build(data, prometheus.url, api_client, Clock(now))
    try:
        report = service.tick()
    finally:
        service.close()
    assert report.ok, report
    return ({o.target: o.decision.replicas for o in report.targets if o.decision},
            {p.pool: p.desired for p in report.pools})


def _backtest(prometheus: PrometheusServer, config: Config, now: float, tmp: Path) -> tuple[dict[str, int],
                                                                                        dict[str, int]]:
    start = prometheus.start.timestamp()
    scenarios = []
    for target in config.targets:  # the very series Prometheus holds, as a trace file
        rows = (f"{int(start) + 60 * k},{v!r}" for k, v in enumerate(prometheus.written[target.name]))
        (tmp / f"{target.name}.csv").write_text("timestamp,value\n" + "\n".join(rows) + "\n", encoding="utf-8")
        scenarios.append(build_scenario(config, target, load_trace(tmp / f"{target.name}.csv")))
    fs = loop.fleet_scenario(scenarios)
    sim = FleetSimulator(fs.config, (Fault("a100", 0.0, 1e12, gpus=1),), placement=fs.placement)
    sim.seed(CURRENT, NODES)
    # Step i sees demand up to step i - 1: the live tick at ``now`` sees the sample written at ``now``.
    i = round((now - start) / 60) + 1
    policies = {sc.target.name: make_policy("reactive", sc) for sc in scenarios}
    fd, _ = loop.step(fs, i, sim, policies, {n: PolicyHistory() for n in policies}, FleetState())
    return {n: d.replicas for n, d in fd.targets.items()}, {p: plan.nodes for p, plan in fd.pools.items()}


def test_the_live_tick_and_the_backtest_step_give_the_same_replicas_and_nodes(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient, tmp_path: Path) -> None:
    data = _config()
    now = prometheus.end.timestamp() - 3600
    live = _live(prometheus, kube, api_client, data, now)
    backtest = _backtest(prometheus, parse_config(data), now, tmp_path)
    assert live == backtest
    replicas, nodes = live
    assert replicas["chat"] + 2 * replicas["batch"] > 3 * 8 - 1  # more than the first pool holds: it spills
    assert nodes["a100"] == 3 and nodes["h100"] >= 1  # full (with its spare node), the rest next door
