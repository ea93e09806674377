"""Announced events and node pools, end to end: real Prometheus, the real HTTP endpoint, the official
kubernetes client against the API-server double.

* ``POST /v1/events`` on the service's port raises the Deployment at the next tick, the event is
  saved with the plan, and a fresh leader restoring the plan still holds it;
* a MachineDeployment is scaled to the bin-packed node count of two targets sharing a pool;
* a balloon pool gets its headroom Deployment (and PriorityClass) created and sized.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from prometheus_client import CollectorRegistry

from forecastscale.config import parse_config
from forecastscale.service.http import HttpServer
from forecastscale.service.wiring import build_service, events_mount
from tests.integration.conftest import METRIC, PrometheusServer
from tests.integration.kube.apiserver import ScaleApiDouble
from tests.integration.service.helpers import chat_target, service_config
from tests.integration.service.test_faults import Clock, build, replicas

TOKEN = "s3cret-token"
FAST_UP = {"scale_up": {"stabilization_window_seconds": 0,
                        "policies": [{"type": "Pods", "value": 100, "period_seconds": 15}]}}


def _post(port: int, body: dict[str, Any], token: str = TOKEN) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/events", data=json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _with_events(kube: ScaleApiDouble, tmp_path: Path) -> dict[str, Any]:
    kube.add("deployments", "default", "chat", replicas=2)
    (tmp_path / "token").write_text(TOKEN + "\n", encoding="utf-8")
    data = service_config([chat_target(scaling={"behavior": FAST_UP})], policy="reactive")
    data["service"]["webhook_token_file"] = str(tmp_path / "token")
    return data


def test_an_announced_event_raises_the_deployment_at_the_next_tick_and_survives_failover(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient, tmp_path: Path) -> None:
    data = _with_events(kube, tmp_path)
    clock = Clock(prometheus.end.timestamp() - 3600)
    service = build(data, prometheus.url, api_client, clock)
    server = HttpServer("127.0.0.1", 0, service.metrics.registry, lambda: {}, events_mount(parse_config(data),
                                                                                          service)).start()
    try:
        before = service.tick()
        assert before.targets[0].decision is not None and "event" not in before.targets[0].decision.candidates
        assert _post(server.port, {"target": "chat", "duration_s": 1800, "min_replicas": 25, "reason": "x"},
                     token="wrong")[0] == 401
        code, problem = _post(server.port, {"target": "chat", "duration_s": -5, "min_replicas": 25, "reason": "x"})
        assert code == 400 and any(p.startswith("duration_s:") for p in problem["problems"])
        code, stored = _post(server.port, {"target": "chat", "duration_s": 1800, "min_replicas": 25,
                                           "reason": "launch"})
        assert code == 201 and stored["target"] == "chat"
        clock.advance(60)
        report = service.tick()
    finally:
        server.stop()
    decision = report.targets[0].decision
    # From 2 replicas the HPA asks for at most 14 on this data at any hour (~77/s peak), so the event wins.
    assert decision is not None and decision.candidates["reactive"] < 25
    assert decision.reason == "event" and decision.candidates["event"] == decision.replicas == 25
    assert replicas(kube) == 25
    saved = json.loads(kube.stored("configmaps", "default", "forecastscale-plan")["data"]["plan.json"])
    assert [e["id"] for e in saved["events"]["events"]] == [stored["id"]]
    service.close()
    # A new leader (fresh process) restores the plan before its first patch: the event still holds.
    successor = build(data, prometheus.url, api_client, clock)
    clock.advance(60)
    again = successor.tick().targets[0].decision
    # Not the reason: at 25 replicas with 2 ready, the HPA holds 25 unless those 2 run below 90 % of their
    # target (its tolerance), and a tie goes to it. The pinned history ticks here at ~4/s, but assert only
    # what holds at any hour: the restored event asks for 25 and 25 is what is kept.
    assert again is not None and again.candidates["event"] == again.replicas == 25
    assert replicas(kube) == 25
    successor.close()


def _two_targets_one_pool(kube: ScaleApiDouble, **pool: Any) -> dict[str, Any]:
    for name in ("chat", "batch"):
        kube.add("deployments", "default", name, replicas=2)
    targets = [chat_target(workload={"gpus_per_pod": 4}),
               chat_target(name="batch", workload={"kind": "Deployment", "name": "batch", "namespace": "default",
                                                   "gpus_per_pod": 2, "capacity_per_replica": 2})]
    data = service_config(targets, policy="reactive")
    data["service"]["queries"]["demand"] = f'{METRIC}{{target="$target"}}'
    data["node_pools"][0].update(pool)
    return data


def test_a_machine_deployment_gets_the_bin_packed_node_count_of_the_pods_sharing_it(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    kube.add("machinedeployments", "default", "gpu-md", replicas=1)
    data = _two_targets_one_pool(kube, machine_deployment={"name": "gpu-md", "namespace": "default"})
    service = build(data, prometheus.url, api_client, Clock(prometheus.end.timestamp() - 3600))
    report = service.tick()
    pods = {o.target: o.decision.pods_ahead or o.decision.replicas for o in report.targets if o.decision}
    # 4- and 2-GPU pods on 8-GPU nodes pack without waste: ceil(GPUs / 8) nodes, fewer than sizing apart
    expected = math.ceil((4 * pods["chat"] + 2 * pods["batch"]) / 8)
    assert kube.stored("machinedeployments", "default", "gpu-md")["spec"]["replicas"] == expected
    assert report.pools[0].desired == expected
    assert expected <= math.ceil(pods["chat"] / 2) + math.ceil(pods["batch"] / 4)
    service.close()


@pytest.mark.parametrize("headroom", [0, 2], ids=["no-headroom", "two-spare-nodes"])
def test_a_balloon_pool_gets_headroom_pods_for_the_nodes_planned_ahead(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient, headroom: int) -> None:
    data = _two_targets_one_pool(kube, balloon={"namespace": "default"}, headroom_nodes=headroom)
    config = parse_config(data)
    service = build_service(config, prometheus_url=prometheus.url, api=api_client, dry_run=False,
                            registry=CollectorRegistry(), identity="solo",
                            clock=Clock(prometheus.end.timestamp() - 3600))
    report = service.tick()
    pool = report.pools[0]
    assert pool.action in ("patched", "unchanged")
    stored = kube.stored("deployments", "default", "forecastscale-balloon-gpu") if pool.desired else None
    if stored is not None:
        assert stored["spec"]["replicas"] == pool.desired
        pod = stored["spec"]["template"]["spec"]
        assert pod["priorityClassName"] == "forecastscale-balloon"
        assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] in (8, "8")
        assert kube.stored("priorityclasses", None, "forecastscale-balloon")["value"] == -10
    assert pool.desired >= headroom  # the spare nodes at least, plus what the planned pods need beyond today's
    service.close()


def test_a_queue_rule_scales_on_the_queue_query_prometheus_answers(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    kube.add("deployments", "default", "chat", replicas=2)
    rules = [{"type": "demand", "target": {"type": "Utilization", "average_utilization": 100}},
             {"type": "queue", "target": {"type": "AverageValue", "average_value": 0.5}}]
    target = chat_target(scaling={"behavior": FAST_UP, "metrics": rules},
                         queries={"queue": f'{METRIC}{{target="batch"}}'},
                         workload={"capacity_per_replica": 1000})  # demand alone needs 1 replica: the queue decides
    clock = Clock(prometheus.end.timestamp() - 3600)
    service = build(service_config([target], policy="reactive"), prometheus.url, api_client, clock)
    report = service.tick()
    queued = prometheus.written["batch"][int(clock.now - prometheus.start.timestamp()) // prometheus.step_s]
    decision = report.targets[0].decision
    assert decision is not None and decision.candidates["reactive"] == math.ceil(queued / 0.5)
    assert replicas(kube) == min(30, math.ceil(queued / 0.5)) and "queue" in decision.message
    service.close()


def test_a_full_pool_is_shared_by_share_and_the_decision_says_who_was_capped(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    for name in ("chat", "batch"):
        kube.add("deployments", "default", name, replicas=2)
    # each wants far more than the pool holds: capacity 1 replica-equivalent per demand unit
    pods = {"capacity_per_replica": 1, "gpus_per_pod": 2}
    scaling = {"behavior": FAST_UP, "min_replicas": 2}
    targets = [chat_target(workload=pods, scaling=scaling, scheduling={"share": 3}),
               chat_target(name="batch", workload={**pods, "kind": "Deployment", "name": "batch",
                                                   "namespace": "default"},
                           scaling=scaling, scheduling={"share": 1})]
    data = service_config(targets, policy="reactive")
    data["node_pools"][0]["max_nodes"] = 2  # 16 GPUs = 8 pods of 2 GPUs between them
    service = build(data, prometheus.url, api_client, Clock(prometheus.end.timestamp() - 3600))
    report = service.tick()
    got = {o.target: o.decision for o in report.targets}
    assert all(d is not None and d.reason.endswith("/capped:share") for d in got.values())
    chat, batch = replicas(kube, "chat"), replicas(kube, "batch")
    assert 2 * (chat + batch) <= 16 and chat >= 2 and batch >= 2  # capacity held, minima held
    assert chat > batch  # share 3 vs 1 (both want more than the whole pool)
    assert got["chat"] is not None and "capped by" in got["chat"].message and got["chat"].candidates["capped"] == chat
    service.close()


def test_pods_that_fit_no_pool_are_reported_not_dropped(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    kube.add("deployments", "default", "chat", replicas=2)
    target = chat_target(scheduling={"node_selector": {"accelerator": "h100"}})  # the only pool has no such label
    service = build(service_config([target], policy="reactive"), prometheus.url, api_client,
                    Clock(prometheus.end.timestamp() - 3600))
    report = service.tick()
    planned = report.targets[0].decision
    assert planned is not None
    value = service.metrics.registry.get_sample_value("forecastscale_unplaced_pods", {"target": "chat"})
    assert value == (planned.pods_ahead or planned.replicas) > 0
    service.close()


def test_lost_capacity_is_replaced_and_not_shared_out(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    kube.add("deployments", "default", "chat", replicas=2)
    kube.add("machinedeployments", "default", "gpu-md", replicas=1)
    for name, extra in (("n1", {}), ("n2", {"ready": False}), ("n3", {"unschedulable": True}),
                        ("n4", {"annotations": {"forecastscale.io/unhealthy-gpus": "0,1,2"}})):
        kube.add_node(name, {"pool": "gpu"}, **extra)
    kube.add_node("elsewhere", {"pool": "cpu"}, ready=False)  # another pool's trouble is not ours
    data = service_config([chat_target()], policy="reactive")
    data["node_pools"][0].update(machine_deployment={"name": "gpu-md", "namespace": "default"},
                                 labels={"pool": "gpu"}, health={"enabled": True})
    service = build(data, prometheus.url, api_client, Clock(prometheus.end.timestamp() - 3600))
    report = service.tick()
    decision = report.targets[0].decision
    assert decision is not None
    planned = math.ceil((decision.pods_ahead or decision.replicas) / 8)  # 1-GPU pods on 8-GPU nodes
    lost = 8 + 8 + 3  # NotReady, cordoned, three bad GPUs
    assert service.metrics.registry.get_sample_value("forecastscale_gpus_excluded", {"pool": "gpu"}) == lost
    assert kube.stored("machinedeployments", "default", "gpu-md")["spec"]["replicas"] == planned + math.ceil(lost / 8)
    service.close()
