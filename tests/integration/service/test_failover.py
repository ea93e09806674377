"""Replicas of the service against one API-server double: one leads and patches; on failover the
new leader restores the persisted plan, so it does not scale down inside the stabilisation window.

The clock is simulated (for the Lease and for the ticks) and lands on the backfilled
``stepdown`` series: 100/s until the last hour, then 20/s. :func:`run_for` paces elections
every retry period and ticks every tick, as the scheduler does.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client
from prometheus_client import CollectorRegistry

from forecastscale.config import parse_config
from forecastscale.service.core import Service
from forecastscale.service.wiring import build_service
from tests.integration.conftest import STEPDOWN_STEPS, PrometheusServer
from tests.integration.kube.apiserver import ScaleApiDouble
from tests.integration.service.helpers import TICK_S, chat_target, service_config
from tests.integration.service.test_faults import Clock, replicas

LEASE_S, RENEW_S, RETRY_S = 15.0, 10.0, 2.0


class Cluster:
    """Service replicas sharing a simulated clock, a Prometheus and the double."""

    def __init__(self, prom: PrometheusServer, kube: ScaleApiDouble, clock: Clock) -> None:
        self.prom, self.kube, self.clock = prom, kube, clock
        self.replicas: dict[str, Service] = {}
        self.next_tick = clock.now

    def start(self, name: str, plan: bool = True) -> Service:
        target = chat_target(name="stepdown", forecast={"window_s": 86400},
                             workload={"kind": "Deployment", "name": "chat", "namespace": "default",
                                       "capacity_per_replica": 10})
        election = {"enabled": True, "lease_duration_s": LEASE_S, "renew_deadline_s": RENEW_S,
                    "retry_period_s": RETRY_S}
        extra = {} if plan else {"plan_configmap": f"none-{name}"}
        data = service_config([target], policy="reactive", leader_election=election, **extra)
        api = client.ApiClient(client.Configuration(host=self.kube.url))
        self.replicas[name] = build_service(
            parse_config(data), prometheus_url=self.prom.url, api=api, dry_run=False,
            registry=CollectorRegistry(), identity=name, clock=self.clock, monotonic=self.clock)
        self.replicas[name].elect()
        return self.replicas[name]

    def kill(self, name: str) -> None:
        """Stop a replica without releasing its Lease (a crash, not a graceful shutdown)."""
        self.replicas.pop(name).close()

    def run_for(self, seconds: float) -> None:
        """Advance the clock: every replica elects each retry period and ticks each tick."""
        end = self.clock.now + seconds
        for _ in range(int(seconds / RETRY_S) + 1):  # bounded by count
            if self.clock.now + RETRY_S > end:
                break
            self.clock.advance(RETRY_S)
            for service in self.replicas.values():
                service.elect()
            if self.clock.now >= self.next_tick:
                self.next_tick += TICK_S
                for service in self.replicas.values():
                    service.tick()

    def leaders(self) -> list[str]:
        return [n for n, s in self.replicas.items() if s.leader]

    def close(self) -> None:
        for name in list(self.replicas):
            self.kill(name)


@pytest.fixture
def cluster(prometheus: PrometheusServer, kube: ScaleApiDouble) -> Iterator[Cluster]:
    drop = prometheus.end.timestamp() - (STEPDOWN_STEPS - 1) * prometheus.step_s  # first 20/s sample
    kube.add("deployments", "default", "chat", replicas=10)
    c = Cluster(prometheus, kube, Clock(drop - 5 * TICK_S))
    yield c
    c.close()


def _climb(cluster: Cluster) -> None:
    """a leads, b stands by; four minutes of 100/s bring the Deployment to 15 replicas."""
    a, b = cluster.start("a"), cluster.start("b")
    assert (a.leader, b.leader) == (True, False)
    rb, ra = b.tick(), a.tick()  # b first: it sees the same 10 replicas a does
    assert (ra.targets[0].action, rb.targets[0].action) == ("patched", "standby")
    assert cluster.kube.count("PUT", "deployments") == 1  # exactly one replica patched
    cluster.next_tick = cluster.clock.now + TICK_S
    cluster.run_for(4 * TICK_S - RETRY_S)  # up to just before the drop
    assert cluster.leaders() == ["a"] and replicas(cluster.kube) == 15


def test_standby_takes_over_within_lease_plus_retry_and_does_not_scale_down(cluster: Cluster) -> None:
    _climb(cluster)
    killed_at = cluster.clock.now
    cluster.kill("a")
    b = cluster.replicas["b"]
    took_over = None
    for _ in range(int((LEASE_S + 2 * RETRY_S) / RETRY_S)):
        cluster.run_for(RETRY_S)
        if b.leader:
            took_over = cluster.clock.now
            break
    assert took_over is not None, "the standby did not take over"
    assert killed_at + LEASE_S <= took_over <= killed_at + LEASE_S + RETRY_S
    cluster.run_for(2 * TICK_S)  # demand has dropped to 20/s: the HPA alone wants 3
    report = b.last
    assert report is not None and report.leader
    assert report.targets[0].decision is not None and report.targets[0].decision.reason == "reactive/stabilised"
    assert replicas(cluster.kube) == 15


def test_a_fresh_leader_restores_the_plan_and_keeps_the_window(cluster: Cluster) -> None:
    _climb(cluster)
    cluster.kill("a")
    cluster.kill("b")  # both gone (e.g. a node drained); a new replica starts after the drop
    cluster.run_for(TICK_S)
    c = cluster.start("c")
    cluster.run_for(TICK_S + RETRY_S)  # the lease runs out on c's clock, then c's first tick as leader
    assert c.leader and c.last is not None and c.last.leader
    decision = c.last.targets[0].decision
    assert decision is not None and decision.candidates["reactive"] < 15
    assert decision.reason == "reactive/stabilised" and replicas(cluster.kube) == 15
    cluster.run_for(300)  # past the 300-s scale-down window of the restored recommendations
    assert replicas(cluster.kube) < 15


def test_control_a_fresh_leader_without_the_plan_scales_down_at_once(cluster: Cluster) -> None:
    _climb(cluster)
    cluster.kill("a")
    cluster.kill("b")
    cluster.run_for(TICK_S)
    c = cluster.start("c", plan=False)
    cluster.run_for(TICK_S + RETRY_S)
    assert c.leader and replicas(cluster.kube) < 15
