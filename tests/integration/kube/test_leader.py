"""The Lease elector, driven through the official ``kubernetes`` client against the API-server double.

Candidates share one simulated clock (seconds) and make one round per retry period, as the
service's scheduler does; every loop is bounded by a round count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from kubernetes import client

from forecastscale.service.leader import LeaseElector, LeaseSettings
from tests.integration.kube.apiserver import Fault, ScaleApiDouble

NS, NAME = "default", "forecastscale"
LEASE_S, RENEW_S, RETRY_S = 15.0, 10.0, 2.0
BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """Simulated monotonic seconds, moved by the test."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


Make = Callable[..., LeaseElector]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make(kube: ScaleApiDouble, clock: FakeClock) -> Iterator[Make]:
    """Build a candidate with its own ``ApiClient``; ``skew_s`` shifts the wall time it writes."""
    clients: list[client.ApiClient] = []

    def build(identity: str, skew_s: float = 0.0) -> LeaseElector:
        configuration = client.Configuration(host=kube.url)
        configuration.retries = False  # every request shows up once in the double's log
        clients.append(client.ApiClient(configuration))
        settings = LeaseSettings(NAME, NS, identity, LEASE_S, RENEW_S, RETRY_S)
        return LeaseElector(clients[-1], settings, clock=clock,
                            wall=lambda: BASE + timedelta(seconds=clock.now + skew_s), request_timeout_s=5.0)

    yield build
    for api in clients:
        api.close()


def lease(kube: ScaleApiDouble) -> dict[str, object]:
    spec = kube.stored("leases", NS, NAME)["spec"]
    assert isinstance(spec, dict)
    return spec


def rounds(clock: FakeClock, *candidates: LeaseElector) -> list[bool]:
    """One retry period later, each candidate's round in order; their results."""
    clock.advance(RETRY_S)
    return [c.try_acquire_or_renew() for c in candidates]


def aged(clock: FakeClock, renewed: float, elector: LeaseElector) -> tuple[float, bool]:
    """One round of ``elector`` a retry period later: (seconds since ``renewed``, its result)."""
    (leading,) = rounds(clock, elector)
    return clock.now - renewed, leading


def test_first_candidate_creates_the_lease_and_leads(kube: ScaleApiDouble, make: Make) -> None:
    a, b = make("a"), make("b")
    assert (a.is_leader, a.holder, a.rounds) == (False, None, 0)
    assert a.try_acquire_or_renew() is True
    assert (a.is_leader, a.holder, a.rounds, a.errors) == (True, "a", 1, 0)
    spec = lease(kube)
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"], spec["leaseTransitions"]) == ("a", 15, 0)
    assert spec["acquireTime"] == spec["renewTime"]
    path = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"
    assert kube.requests == [("GET", f"{path}/{NAME}"), ("POST", path)]
    assert b.try_acquire_or_renew() is False
    assert (b.is_leader, b.holder, b.errors) == (False, "a", 0)
    assert kube.count("PUT", "leases") == 0  # a standby that sees a valid Lease does not write


def test_the_leader_renews_and_the_standby_waits(kube: ScaleApiDouble, make: Make, clock: FakeClock) -> None:
    a, b = make("a"), make("b")
    a.try_acquire_or_renew()
    acquired = lease(kube)["acquireTime"]
    versions = {kube.stored("leases", NS, NAME)["metadata"]["resourceVersion"]}
    for _ in range(int(3 * LEASE_S / RETRY_S)):  # well past a lease duration
        assert rounds(clock, a, b) == [True, False]
        versions.add(kube.stored("leases", NS, NAME)["metadata"]["resourceVersion"])
    spec = lease(kube)
    assert (spec["holderIdentity"], spec["leaseTransitions"], spec["acquireTime"]) == ("a", 0, acquired)
    assert spec["renewTime"] != acquired and len(versions) == int(3 * LEASE_S / RETRY_S) + 1
    # One conditional PUT per renewal, no GET: the fast path writes on top of the Lease it wrote last.
    assert kube.count("PUT", "leases") == int(3 * LEASE_S / RETRY_S) and a.errors == b.errors == 0


@pytest.mark.parametrize("skew_s", [0.0, -86400.0, 86400.0], ids=["same-wall", "leader-wall-a-day-behind",
                                                                  "leader-wall-a-day-ahead"])
def test_standby_takes_over_after_the_lease_duration_on_its_own_clock(
        kube: ScaleApiDouble, make: Make, clock: FakeClock, skew_s: float) -> None:
    a, b = make("a", skew_s=skew_s), make("b")  # a's renewTime may be far off: b must not care
    a.try_acquire_or_renew()
    for _ in range(3):
        assert rounds(clock, a, b) == [True, False]
    stopped = clock.now  # a's last renewal (b saw it in the same round): a hangs from here on
    took_over = None
    for _ in range(int((LEASE_S + 2 * RETRY_S) / RETRY_S)):
        (leading,) = rounds(clock, b)
        assert a.is_leader is (clock.now - stopped < RENEW_S)  # a steps down on its own clock
        if leading:
            took_over = clock.now
            break
    assert took_over is not None, "the standby never took over"
    assert stopped + LEASE_S <= took_over <= stopped + LEASE_S + RETRY_S
    spec = lease(kube)
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("b", 1)
    assert spec["acquireTime"] == spec["renewTime"]
    assert a.try_acquire_or_renew() is False and a.holder == "b"  # a comes back and finds b leading
    assert rounds(clock, a, b) == [False, True]


def test_a_standby_that_starts_late_waits_a_full_duration_from_its_first_look(
        kube: ScaleApiDouble, make: Make, clock: FakeClock) -> None:
    a = make("a")
    a.try_acquire_or_renew()  # then a crashes without releasing
    clock.advance(10 * LEASE_S)  # the Lease's renewTime is long past, but b has never seen it change
    b = make("b")
    results = [b.try_acquire_or_renew()]
    results += [rounds(clock, b)[0] for _ in range(int(LEASE_S / RETRY_S) + 1)]
    assert results.index(True) * RETRY_S >= LEASE_S and results[-1] is True


def test_release_hands_over_at_once(kube: ScaleApiDouble, make: Make, clock: FakeClock) -> None:
    a, b = make("a"), make("b")
    assert b.release() is False  # not leading: nothing sent
    assert kube.requests == []
    a.try_acquire_or_renew()
    assert rounds(clock, a, b) == [True, False]
    assert a.release() is True
    assert (a.is_leader, a.holder) == (False, None)
    spec = lease(kube)
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"]) == ("", 1)
    assert b.try_acquire_or_renew() is True  # same instant: no waiting for expiry
    assert (lease(kube)["holderIdentity"], lease(kube)["leaseTransitions"]) == ("b", 1)
    assert a.release() is False and a.try_acquire_or_renew() is False


def test_a_concurrent_write_on_renew_is_reread_and_renewed(kube: ScaleApiDouble, make: Make, clock: FakeClock,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    a = make("a")
    a.try_acquire_or_renew()
    kube.interfere(times=1, resource="leases")  # someone (kubectl label ...) writes the Lease meanwhile
    with caplog.at_level(logging.WARNING, logger="forecastscale.leader"):
        assert rounds(clock, a) == [True]
    assert a.errors == 1 and "Conflict" in caplog.text
    assert kube.count("PUT", "leases") == 2 and kube.count("GET", "leases") == 2  # 409, then read and renew
    stored = kube.stored("leases", NS, NAME)
    assert stored["metadata"]["labels"] == {"touched": "yes"} and stored["spec"]["holderIdentity"] == "a"


def test_409s_on_every_write_do_not_crash_and_keep_leadership_until_the_deadline(
        kube: ScaleApiDouble, make: Make, clock: FakeClock) -> None:
    a = make("a")
    a.try_acquire_or_renew()
    renewed = clock.now
    kube.fail(Fault(409, method="PUT", times=1000, resource="leases"))
    results = [aged(clock, renewed, a) for _ in range(int(LEASE_S / RETRY_S))]
    assert all(leading is (age < RENEW_S) for age, leading in results)
    assert a.errors == 2 * len(results)  # each round: the renew and the re-read's write


def test_a_standby_losing_the_takeover_race_stays_standby(kube: ScaleApiDouble, make: Make,
                                                          clock: FakeClock) -> None:
    a, b = make("a"), make("b")
    a.try_acquire_or_renew()
    b.try_acquire_or_renew()
    clock.advance(LEASE_S)  # a is gone; its Lease has expired on b's clock
    kube.interfere(times=1, resource="leases")  # another candidate writes between b's GET and PUT
    assert b.try_acquire_or_renew() is False and b.errors == 1
    assert lease(kube)["holderIdentity"] == "a"  # the stale PUT changed nothing


def test_a_403_on_get_is_logged_counted_and_not_leader(kube: ScaleApiDouble, make: Make,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    b = make("b")
    kube.fail(Fault(403, method="GET", times=1, resource="leases"))
    with caplog.at_level(logging.WARNING, logger="forecastscale.leader"):
        assert b.try_acquire_or_renew() is False
    assert (b.errors, b.rounds, b.is_leader) == (1, 1, False)
    [record] = [r for r in caplog.records if r.name == "forecastscale.leader"]
    assert "Lease default/forecastscale" in record.getMessage() and "403" in record.getMessage()
    assert kube.count("POST", "leases") == kube.count("PUT", "leases") == 0
    assert b.try_acquire_or_renew() is True  # the fault is spent: the next round creates the Lease


def test_failing_renewals_lose_leadership_at_the_renew_deadline_not_before(
        kube: ScaleApiDouble, make: Make, clock: FakeClock) -> None:
    a = make("a")
    assert a.try_acquire_or_renew() is True
    renewed = clock.now
    outage = Fault(503, method=None, times=1000, resource="leases")
    kube.fail(outage)
    results = [aged(clock, renewed, a) for _ in range(int(LEASE_S / RETRY_S))]
    assert [leading for _, leading in results] == [age < RENEW_S for age, _ in results]
    assert any(leading for _, leading in results) and not results[-1][1]
    assert a.errors == 2 * len(results)  # each round: the renew PUT and the fallback GET
    outage.times = 0  # the API server is back; nobody else took the Lease meanwhile
    assert rounds(clock, a) == [True]
    assert (lease(kube)["holderIdentity"], lease(kube)["leaseTransitions"]) == ("a", 0)


def test_accepts_a_ready_coordination_api(kube: ScaleApiDouble, api_client: client.ApiClient,
                                          clock: FakeClock) -> None:
    elector = LeaseElector(client.CoordinationV1Api(api_client), LeaseSettings(NAME, NS, "solo"), clock=clock)
    assert elector.try_acquire_or_renew() is True and lease(kube)["holderIdentity"] == "solo"
    assert isinstance(lease(kube)["renewTime"], str)  # written from the real wall clock by default


def test_the_double_refuses_a_stale_lease_put_and_keeps_the_stored_lease(
        kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    api = client.CoordinationV1Api(api_client)
    body = client.V1Lease(metadata=client.V1ObjectMeta(name=NAME), spec=client.V1LeaseSpec(holder_identity="a"))
    first = api.create_namespaced_lease(NS, body)
    api.replace_namespaced_lease(NAME, NS, first.model_copy(update={"spec": client.V1LeaseSpec(holder_identity="b")}))
    before = kube.stored("leases", NS, NAME)
    stale = first.model_copy(update={"spec": client.V1LeaseSpec(holder_identity="c")})
    with pytest.raises(client.exceptions.ApiException) as info:
        api.replace_namespaced_lease(NAME, NS, stale)
    assert info.value.status == 409 and '"reason": "Conflict"' in str(info.value.body)
    assert kube.stored("leases", NS, NAME) == before
    with pytest.raises(client.exceptions.ApiException) as again:
        api.create_namespaced_lease(NS, body)
    assert again.value.status == 409 and '"reason": "AlreadyExists"' in str(again.value.body)
    assert kube.stored("leases", NS, NAME) == before
