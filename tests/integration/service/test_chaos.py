"""Chaos for HA: leaders killed at random points, a stalled leader resuming, events booked and cancelled throughout.

Replicas of the real service (real Prometheus, the official kubernetes client against the API-server double,
the real ``/v1/events`` WSGI app) share a simulated clock. A seeded schedule kills the leader at the points
where a promise could break — between the decision and the scale write, between an event POST and its plan
write, during a plan write (it lands, the answer is lost) — or freezes it inside ``apply`` past its Lease and
lets it resume after a successor took over. A killed replica restarts as a fresh process (new pod name, empty
memory). Throughout, every write that reaches the API server is checked against the Lease's holder at that
moment, and at the end:

* every event acknowledged (201) and not cancelled is in the plan and in the leader's book — none lost;
* no event acknowledged as cancelled (204) is anywhere — none resurrected;
* no write (scale, plan) was sent by a replica that did not hold the Lease;
* no scale-down happened inside the HPA's 300-s stabilisation window after demand dropped (and one did
  happen after it, so the check is not vacuous).
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client
from prometheus_client import CollectorRegistry
from werkzeug.test import Client

from forecastscale.config import Config, parse_config
from forecastscale.service.core import Service
from forecastscale.service.plan import PlanStore
from forecastscale.service.plan_codec import decode
from forecastscale.service.wiring import build_service, events_mount
from tests.integration.conftest import STEPDOWN_STEPS, PrometheusServer
from tests.integration.kube.apiserver import ScaleApiDouble
from tests.integration.service.helpers import TICK_S, chat_target, service_config
from tests.integration.service.test_faults import Clock

LEASE_S, RENEW_S, RETRY_S = 15.0, 10.0, 2.0
HIGH = 15  # replicas the HPA wants at 100/s (10 per replica at 70 %)
WINDOW_S = 300  # the default scale-down stabilisation window
TOKEN = "chaos-token"
WRITES = ("PUT", "POST", "PATCH", "DELETE")


class Killed(BaseException):
    """The process died here (a BaseException: no ``except Exception`` of ours may swallow a kill)."""


@dataclass
class Trap:
    """Fire once on the next request of ``method`` whose path contains ``path``: ``kill`` before sending it,
    ``kill-after`` once it reached the server, or ``stall`` (block until released) before sending it."""

    method: str
    path: str
    mode: str
    point: str = ""
    skip: int = 0  # matching requests to let through first
    released: threading.Event = field(default_factory=threading.Event)
    hit: threading.Event = field(default_factory=threading.Event)


class Chaos:
    """Replicas on a simulated clock; traps on each replica's API client; a ledger of what was promised."""

    def __init__(self, prom: PrometheusServer, kube: ScaleApiDouble, clock: Clock, tmp: Any) -> None:
        self.prom, self.kube, self.clock = prom, kube, clock
        self.replicas: dict[str, Service] = {}
        self.traps: dict[str, Trap] = {}
        self.born = 0
        self.kills: dict[str, int] = {}  # by kill point
        self.acked: set[str] = set()
        self.cancelled: set[str] = set()
        self.bad_writes: list[str] = []
        self.writes = 0
        self.scale_writes: list[tuple[float, int]] = []  # (time, replicas) of every scale write that landed
        (tmp / "token").write_text(TOKEN, encoding="utf-8")
        target = chat_target(name="stepdown", forecast={"window_s": 86400},
                             workload={"kind": "Deployment", "name": "chat", "namespace": "default",
                                       "capacity_per_replica": 10})
        election = {"enabled": True, "lease_duration_s": LEASE_S, "renew_deadline_s": RENEW_S,
                    "retry_period_s": RETRY_S}
        self.config: Config = parse_config(service_config([target], policy="reactive", leader_election=election,
                                                          webhook_token_file=str(tmp / "token")))

    # --- replicas ------------------------------------------------------------------------------------
    def start(self) -> str:
        """A new pod (a fresh name and memory), standing by until it wins the Lease."""
        self.born += 1
        name = f"pod-{self.born}"
        api = client.ApiClient(client.Configuration(host=self.kube.url))
        self._trap(name, api)
        self.replicas[name] = build_service(self.config, prometheus_url=self.prom.url, api=api, dry_run=False,
                                            registry=CollectorRegistry(), identity=name, clock=self.clock,
                                            monotonic=self.clock)
        return name

    def kill(self, name: str, point: str) -> None:
        """A crash: no Lease release, memory gone; a replacement pod starts at once."""
        self.replicas.pop(name).close()
        self.traps.pop(name, None)
        self.kills[point] = self.kills.get(point, 0) + 1
        self.start()

    def leader(self) -> str | None:
        leading = [n for n, s in self.replicas.items() if s.leader]
        assert len(leading) <= 1, f"two leaders at once: {leading}"
        return leading[0] if leading else None

    def _trap(self, name: str, api: client.ApiClient) -> None:
        send = api.call_api

        def call_api(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            trap = self.traps.get(name)
            fires = trap is not None and method == trap.method and trap.path in url
            if fires and trap is not None and trap.skip > 0:
                trap.skip, fires = trap.skip - 1, False
            if fires and trap is not None:
                del self.traps[name]
                trap.hit.set()
                if trap.mode == "kill":
                    raise Killed(trap.point)
                if trap.mode == "stall":
                    assert trap.released.wait(30), "a stalled replica was never released"
            if method in WRITES and "/leases/" not in url and not url.endswith("/leases"):
                self._check_writer(name, method, url)
            answer = send(method, url, *args, **kwargs)
            if fires and trap is not None and trap.mode == "kill-after":
                raise Killed(trap.point)  # the write reached the server; its answer is lost
            return answer

        api.call_api = call_api  # type: ignore[method-assign]

    def _check_writer(self, name: str, method: str, url: str) -> None:
        """Every write must come from the replica the Lease names at the moment it is sent."""
        self.writes += 1
        holder = self.kube.stored("leases", "default", "forecastscale")["spec"]["holderIdentity"]
        if holder != name:
            self.bad_writes.append(f"{method} {url} by {name} while {holder} held the Lease")

    # --- time ------------------------------------------------------------------------------------------
    def step(self, frozen: str | None = None) -> None:
        """One retry period: every replica (but a frozen one) runs an election round; ticks on the minute."""
        self.clock.advance(RETRY_S)
        for name, service in list(self.replicas.items()):
            if name != frozen:
                service.elect()
        if self.clock.now % TICK_S < RETRY_S:
            for name in list(self.replicas):
                if name != frozen and name in self.replicas:
                    self.tick(name)

    def tick(self, name: str) -> None:
        before = self.kube.stored("deployments", "default", "chat")["spec"]["replicas"]
        try:
            self.replicas[name].tick()
        except Killed as exc:
            self.kill(name, str(exc))
        after = self.kube.stored("deployments", "default", "chat")["spec"]["replicas"]
        if after != before:
            self.scale_writes.append((self.clock.now, after))

    # --- events ------------------------------------------------------------------------------------------
    def client(self, name: str) -> Client:
        (app,) = events_mount(self.config, self.replicas[name]).values()
        return Client(app)

    def book(self, rng: random.Random, name: str) -> None:
        body = {"target": "stepdown", "duration_s": 7200, "min_replicas": 1, "reason": f"chaos {rng.random():.9f}"}
        try:
            answer = self.client(name).post("/v1/events", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        except Killed as exc:
            self.kill(name, str(exc))
            return
        if answer.status_code == 201:
            self.acked.add(answer.json["id"])

    def cancel(self, rng: random.Random, name: str) -> None:
        live = sorted(self.acked - self.cancelled)
        if not live:
            return
        event_id = rng.choice(live)
        try:
            answer = self.client(name).delete(f"/v1/events/{event_id}", headers={"Authorization": f"Bearer {TOKEN}"})
        except Killed as exc:
            self.kill(name, str(exc))
            return
        if answer.status_code == 204:
            self.cancelled.add(event_id)


@pytest.fixture
def chaos(prometheus: PrometheusServer, kube: ScaleApiDouble, tmp_path: Any) -> Iterator[Chaos]:
    drop = prometheus.end.timestamp() - (STEPDOWN_STEPS - 1) * prometheus.step_s  # first 20/s sample
    kube.add("deployments", "default", "chat", replicas=10)
    c = Chaos(prometheus, kube, Clock(drop - 10 * TICK_S + 1), tmp_path)
    c.drop = drop  # type: ignore[attr-defined]
    yield c
    for service in c.replicas.values():
        service.close()


KILLS: dict[str, Callable[[], Trap]] = {
    "between decide and patch": lambda: Trap("PUT", "/scale", "kill", "between decide and patch"),
    "between POST and save": lambda: Trap("PUT", "/configmaps/", "kill", "between POST and save"),
    "during the save": lambda: Trap("PUT", "/configmaps/", "kill-after", "during the save"),
}


def _stall(c: Chaos, name: str) -> None:
    """Freeze the leader inside apply (its re-read of the scale) until a successor has led and written."""
    trap = Trap("GET", "/scale", "stall", skip=1)  # the first GET is the tick's own read; the second, apply's
    c.traps[name] = trap
    _unsettle(c)  # the scale differs from the decision, so the tick goes on to apply
    frozen = threading.Thread(target=c.tick, args=(name,), daemon=True)
    frozen.start()
    assert trap.hit.wait(30), "the leader never reached apply"
    for _ in range(int((LEASE_S + TICK_S + 2 * RETRY_S) / RETRY_S)):  # bounded: past the Lease and a tick
        c.step(frozen=name)
    trap.released.set()
    frozen.join(30)
    assert not frozen.is_alive()


def _unsettle(c: Chaos) -> None:
    """Someone scaled the Deployment by hand: the leader's next decision differs, so it must write."""
    c.kube.add("deployments", "default", "chat", replicas=c.kube.stored("deployments", "default", "chat")["spec"][
        "replicas"] + 1)


@pytest.mark.parametrize("seed", [int(s) for s in os.environ.get("CHAOS_SEEDS", "1,2").split(",")])
def test_no_acknowledged_event_is_lost_no_deletion_returns_and_no_stale_leader_writes(chaos: Chaos,
                                                                                       seed: int) -> None:
    rng = random.Random(seed)
    c = chaos
    for _ in range(2):
        c.start()
    stalls = [150, 600]  # twice a run (at the first chance from these steps) the leader freezes inside apply
    for step in range(900):  # 30 minutes of retry periods; bounded
        c.step()
        name = c.leader()
        if name is None or name in c.traps:
            continue
        if stalls and step >= stalls[0]:
            _stall(c, name)
            stalls.pop(0)
            continue
        roll = rng.random()
        if roll < 0.05:
            c.book(rng, name)
        elif roll < 0.07:
            c.cancel(rng, name)
        elif roll < 0.10 and sum(c.kills.values()) < 20:
            _arm(c, rng, name)
    assert sum(c.kills.values()) >= 10 and len(c.kills) == len(KILLS) and not stalls, (c.kills, stalls)
    assert len(c.acked) >= 10 and c.cancelled and c.writes > 50
    _every_promise_kept(c, seed)


def _arm(c: Chaos, rng: random.Random, name: str) -> None:
    """Set a kill trap on the leader, and make what it waits for happen: a scale write or an event's plan write
    (the tick's own plan save springs "during the save" too, when no event comes first)."""
    point = rng.choice(list(KILLS))
    c.traps[name] = KILLS[point]()
    if point == "between decide and patch":
        _unsettle(c)
    elif point == "between POST and save" or rng.random() < 0.5:
        c.book(rng, name)


def _every_promise_kept(c: Chaos, seed: int) -> None:
    # Calm: a leader settles, saves, and (every takeover held what was running for a window) scales down.
    for _ in range(int((LEASE_S + WINDOW_S + 2 * TICK_S) / RETRY_S)):
        c.step()
    leader = c.leader()
    assert leader is not None
    snapshot = PlanStore(client.ApiClient(client.Configuration(host=c.kube.url)), "default",
                         "forecastscale-plan").read()
    stored = {e.id for e in decode(snapshot.plan, c.clock.now, ["stepdown"]).book}
    in_memory = {e.id for e in c.replicas[leader].events.book}
    drop = c.drop  # type: ignore[attr-defined]
    figures = {
        "seed": seed, "kills": c.kills, "stalls": 2, "acknowledged": len(c.acked), "cancelled": len(c.cancelled),
        "lost": len((c.acked - c.cancelled) - (stored & in_memory)),
        "resurrected": len(c.cancelled & (stored | in_memory)),
        "non_leader_writes": len(c.bad_writes), "writes": c.writes,
        "early_scale_downs": len([n for t, n in c.scale_writes if n < HIGH and t < drop - TICK_S + WINDOW_S]),
        "scaled_down_after": c.kube.stored("deployments", "default", "chat")["spec"]["replicas"] < HIGH,
    }
    if report := os.environ.get("CHAOS_REPORT"):  # benchmarks/chaos_campaign.py collects these
        with open(report, "a", encoding="utf-8") as out:
            out.write(json.dumps(figures) + "\n")
    assert figures["lost"] == 0 and figures["resurrected"] == 0, figures
    assert figures["non_leader_writes"] == 0, c.bad_writes
    assert figures["early_scale_downs"] == 0 and figures["scaled_down_after"], (figures, c.scale_writes)
