"""Leader election on a ``coordination.k8s.io/v1`` Lease, with client-go's semantics.

Several replicas run the loop; only the holder of the Lease patches. Each candidate makes one
:meth:`LeaseElector.try_acquire_or_renew` round per retry period. Expiry is judged on the
candidate's *own* clock from when it last saw the Lease record change (``observed``), never by
comparing another machine's timestamps, as client-go's leaderelection does. The leader renews
every round; if it cannot renew for ``renew_deadline_s`` it stops leading (before the Lease can
expire for the others, since ``renew_deadline_s < lease_duration_s``).

Why not ``kubernetes.leaderelection``: its ``LeaseLock`` builds ``CoordinationV1Api()`` from the
global default configuration (no client can be passed in), its loop blocks, ``sys.exit``\\ s on
bad settings, cannot be stopped, and reads the wall clock directly.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from kubernetes import client

from forecastscale.actuators._retry import call
from forecastscale.actuators.errors import KubeApiError, NotFound

log = logging.getLogger("forecastscale.leader")


@dataclass(frozen=True)
class LeaseSettings:
    """Which Lease, who we are, and the timing (seconds; client-go's defaults are 15/10/2)."""

    name: str
    namespace: str
    identity: str
    lease_duration_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0

    def __post_init__(self) -> None:
        for field in ("lease_duration_s", "renew_deadline_s", "retry_period_s"):
            if not getattr(self, field) > 0:
                raise ValueError(f"{field} must be > 0, got {getattr(self, field)}")
        if not self.lease_duration_s > self.renew_deadline_s > self.retry_period_s:
            raise ValueError(
                f"need lease_duration_s > renew_deadline_s > retry_period_s, got {self.lease_duration_s}, "
                f"{self.renew_deadline_s}, {self.retry_period_s}")
        if not self.identity:
            raise ValueError("identity must not be empty")


def _record(spec: client.V1LeaseSpec | None) -> tuple[object, ...]:
    """What identifies a Lease record version for expiry purposes (holder, renew time, transitions)."""
    if spec is None:
        return (None, None, None)
    return (spec.holder_identity, spec.renew_time, spec.lease_transitions)


class LeaseElector:
    """One candidate. ``clock`` (seconds, monotonic) judges expiry; ``wall`` stamps the Lease."""

    def __init__(self, api: client.ApiClient | client.CoordinationV1Api, settings: LeaseSettings,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], datetime] = lambda: datetime.now(UTC),
                 request_timeout_s: float = 10.0) -> None:
        self._api = client.CoordinationV1Api(api) if isinstance(api, client.ApiClient) else api
        self.settings, self._clock, self._wall, self._timeout = settings, clock, wall, request_timeout_s
        self._leading = False
        self._last_renew = -math.inf  # clock time of our last successful write as leader
        self._observed: tuple[object, ...] | None = None  # the record as last seen
        self._observed_at = -math.inf  # clock time it was first seen
        self._holder: str | None = None
        self.rounds = 0  # completed rounds, successful or not: "leader or standby is known" once > 0
        self.errors = 0

    @property
    def is_leader(self) -> bool:
        """True while this candidate holds the Lease and has renewed it within the renew deadline."""
        return self._leading and self._clock() - self._last_renew < self.settings.renew_deadline_s

    @property
    def holder(self) -> str | None:
        """The holder identity last seen on the Lease (None if none)."""
        return self._holder

    @property
    def _target(self) -> str:
        return f"Lease {self.settings.namespace}/{self.settings.name}"

    def try_acquire_or_renew(self) -> bool:
        """One round: read the Lease, then create, renew or take it over if it may; returns :attr:`is_leader`."""
        try:
            self._round()
        except KubeApiError as exc:  # never out of here: the loop must go on, leadership decays by itself
            self.errors += 1
            log.warning("%s: election round failed: %s", self._target, exc)
        self.rounds += 1
        if self._leading and not self.is_leader:
            log.warning("%s: could not renew within %g s; stepping down", self._target, self.settings.renew_deadline_s)
            self._leading = False
        return self.is_leader

    def _round(self) -> None:
        s = self.settings
        try:
            lease = call(self._target, lambda: self._api.read_namespaced_lease(
                s.name, s.namespace, _request_timeout=self._timeout))
        except NotFound:
            self._create()
            return
        spec = lease.spec or client.V1LeaseSpec()
        now = self._clock()
        if _record(spec) != self._observed:
            self._observed, self._observed_at = _record(spec), now
        self._holder = spec.holder_identity or None
        duration = spec.lease_duration_seconds or s.lease_duration_s
        if self._holder not in (None, s.identity) and now - self._observed_at < duration:
            self._leading = False  # held by someone else, not expired on our clock
            return
        self._write(lease, spec)

    def _spec(self, spec: client.V1LeaseSpec | None) -> client.V1LeaseSpec:
        s, now = self.settings, self._wall()
        mine = spec is not None and spec.holder_identity == s.identity
        transitions = (spec.lease_transitions or 0) if spec is not None else 0
        return client.V1LeaseSpec(
            holder_identity=s.identity, lease_duration_seconds=math.ceil(s.lease_duration_s),
            acquire_time=spec.acquire_time if mine and spec is not None else now, renew_time=now,
            lease_transitions=transitions if mine or spec is None or not spec.holder_identity else transitions + 1)

    def _create(self) -> None:
        s = self.settings
        body = client.V1Lease(metadata=client.V1ObjectMeta(name=s.name, namespace=s.namespace), spec=self._spec(None))
        created = call(self._target, lambda: self._api.create_namespaced_lease(
            s.namespace, body, _request_timeout=self._timeout))
        self._won(created.spec)

    def _write(self, lease: client.V1Lease, spec: client.V1LeaseSpec) -> None:
        s = self.settings
        # The read resourceVersion makes the write conditional: of two candidates racing for an
        # expired Lease, one gets 409 and stays standby.
        lease.spec = self._spec(spec)
        written = call(self._target, lambda: self._api.replace_namespaced_lease(
            s.name, s.namespace, lease, _request_timeout=self._timeout))
        self._won(written.spec)

    def _won(self, spec: client.V1LeaseSpec | None) -> None:
        if not self._leading:
            log.info("%s: %s is now the leader", self._target, self.settings.identity)
        self._leading, self._last_renew = True, self._clock()
        self._observed, self._observed_at = _record(spec), self._last_renew
        self._holder = self.settings.identity

    def release(self) -> bool:
        """Give the Lease up (holder cleared) so a standby takes over at once; True if released."""
        if not self.is_leader:
            return False
        s = self.settings
        try:
            lease = call(self._target, lambda: self._api.read_namespaced_lease(
                s.name, s.namespace, _request_timeout=self._timeout))
            if lease.spec is None or lease.spec.holder_identity != s.identity:
                return False
            lease.spec.holder_identity = None
            lease.spec.lease_duration_seconds = 1  # client-go also shortens it: nobody needs to wait
            call(self._target, lambda: self._api.replace_namespaced_lease(
                s.name, s.namespace, lease, _request_timeout=self._timeout))
        except KubeApiError as exc:
            self.errors += 1
            log.warning("%s: release failed (standbys take over on expiry): %s", self._target, exc)
            return False
        self._leading = False
        log.info("%s: released by %s", self._target, s.identity)
        return True
