"""Leader election on a ``coordination.k8s.io/v1`` Lease, with client-go's semantics.

Replicas are candidates; only the Lease holder patches. Each makes one
:meth:`LeaseElector.try_acquire_or_renew` round per retry period, as client-go's ``tryAcquireOrRenew``
(k8s.io/client-go/tools/leaderelection): the leader renews with a conditional PUT of the Lease it
wrote last and, if that fails, reads the Lease and tries once more; a standby reads it and takes
it over once expired. Expiry is judged on the candidate's *own* clock from when it last saw the
record change, never by comparing another machine's timestamps. A leader that cannot renew for
``renew_deadline_s`` stops leading before the Lease can expire for the others.

Not ``kubernetes.leaderelection``: its ``LeaseLock`` builds ``CoordinationV1Api()`` from the global
default configuration (no client can be passed in), its loop blocks, calls ``sys.exit`` on bad
settings, cannot be stopped, and reads the wall clock directly.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple, Protocol

from kubernetes import client

from forecastscale.kube.calls import call
from forecastscale.kube.errors import KubeApiError, NotFound

log = logging.getLogger("forecastscale.leader")


@dataclass(frozen=True)
class LeaseSettings:
    """Which Lease, who we are, and the timing in seconds (client-go's defaults: 15, 10, 2)."""

    name: str  # Lease object name
    namespace: str
    identity: str  # this candidate (pod name); an empty holderIdentity means "nobody", so it must not be empty
    lease_duration_s: float = 15.0  # how long standbys wait, from a record change they saw, before taking over
    renew_deadline_s: float = 10.0  # how long the leader keeps leading without a successful renew
    retry_period_s: float = 2.0  # how often each candidate runs a round

    def __post_init__(self) -> None:
        for field in ("name", "namespace", "identity"):
            if not getattr(self, field):
                raise ValueError(f"{field} must not be empty, got {getattr(self, field)!r}")
        for field in ("lease_duration_s", "renew_deadline_s", "retry_period_s"):
            value = getattr(self, field)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{field} must be a finite number > 0, got {value!r}")
        if not self.lease_duration_s > self.renew_deadline_s > self.retry_period_s:
            raise ValueError(
                "need lease_duration_s > renew_deadline_s > retry_period_s, got lease_duration_s="
                f"{self.lease_duration_s:g}, renew_deadline_s={self.renew_deadline_s:g}, "
                f"retry_period_s={self.retry_period_s:g}")


class Elector(Protocol):
    """What the service needs of a leader elector (see :class:`LeaseElector`)."""

    rounds: int  # election rounds done: leader-or-standby is known once > 0

    @property
    def is_leader(self) -> bool: ...

    @property
    def term(self) -> int | None: ...

    def try_acquire_or_renew(self) -> bool: ...

    def release(self) -> bool: ...


class _Record(NamedTuple):
    """The leader-election record of a Lease; a change of any field restarts the expiry countdown."""

    holder: str | None  # None when empty: nobody holds it
    duration_s: int | None
    acquired: datetime | None
    renewed: datetime | None
    transitions: int

    @classmethod
    def of(cls, lease: client.V1Lease) -> _Record:
        spec = lease.spec or client.V1LeaseSpec()
        return cls(spec.holder_identity or None, spec.lease_duration_seconds, spec.acquire_time, spec.renew_time,
                   spec.lease_transitions or 0)


class LeaseElector:
    """One candidate for ``settings``' Lease.

    ``clock`` (seconds, monotonic) judges expiry and the renew deadline; ``wall`` (aware
    datetimes) stamps ``acquireTime``/``renewTime``, which only humans read. ``request_timeout_s``
    bounds each HTTP call (seconds). API errors never raise out: they are logged and counted in
    :attr:`errors`; :attr:`rounds` counts completed rounds (leader or standby is known once > 0).
    """

    def __init__(self, api: client.ApiClient | client.CoordinationV1Api, settings: LeaseSettings,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now(UTC),
                 request_timeout_s: float = 10.0) -> None:
        self._api = client.CoordinationV1Api(api) if isinstance(api, client.ApiClient) else api
        self.settings = settings
        self._clock, self._wall, self._timeout = clock, wall, request_timeout_s
        self._lock = threading.Lock()  # the election job, the tick and shutdown may run in different threads
        self._lease: client.V1Lease | None = None  # last read or written; its resourceVersion guards our writes
        self._observed: _Record | None = None
        self._observed_at = -math.inf  # clock() when the record was last seen to change
        self._renewed_at: float | None = None  # clock() before our last successful write as holder
        self.errors = 0
        self.rounds = 0

    @property
    def target(self) -> str:
        return f"Lease {self.settings.namespace}/{self.settings.name}"

    @property
    def holder(self) -> str | None:
        """holderIdentity last observed (``None`` if nobody holds the Lease or it was never read)."""
        return self._observed.holder if self._observed is not None else None

    @property
    def term(self) -> int | None:
        """The Lease's ``leaseTransitions`` while this candidate holds it (None otherwise): grows with every new
        holder, so a plan written in a later term tells a former leader it is stale."""
        return self._observed.transitions if self._observed is not None and self._holds() else None

    @property
    def is_leader(self) -> bool:
        """This candidate holds the Lease and renewed it less than ``renew_deadline_s`` ago."""
        renewed = self._renewed_at
        return (self._holds() and renewed is not None
                and self._clock() - renewed < self.settings.renew_deadline_s)

    def try_acquire_or_renew(self) -> bool:
        """One round (renew, or GET then create or conditional PUT); returns :attr:`is_leader` after it."""
        with self._lock:
            was = self.is_leader
            try:
                self._round()
            except KubeApiError as exc:
                self._failed("election round", exc)
            self.rounds += 1
            leading = self.is_leader
            if leading != was:
                log.info("%s: %s %s", self.target, self.settings.identity,
                         "is now the leader" if leading else f"stopped leading (holder: {self.holder or 'none'})")
            return leading

    def release(self) -> bool:
        """If leading, clear holderIdentity (conditional PUT) so a standby takes over at once; True if released."""
        with self._lock:
            if not self.is_leader or self._lease is None or self._observed is None:
                return False
            now = self._wall()
            # As client-go: a 1-s duration and no holder, so nobody waits for the old lease to run out.
            spec = client.V1LeaseSpec(holder_identity="", lease_duration_seconds=1, acquire_time=now,
                                      renew_time=now, lease_transitions=self._observed.transitions)
            try:
                self._replace(self._lease.model_copy(update={"spec": spec}), at=self._clock())
            except KubeApiError as exc:
                self._failed("release", exc)
                return False
            self._renewed_at = None
            log.info("%s: released by %s", self.target, self.settings.identity)
            return True

    # --- one round ------------------------------------------------------------------------------------
    def _round(self) -> None:
        if self._holds() and self._valid() and self._lease is not None:
            try:  # the fast path: the Lease is most likely still the one we wrote last
                self._hold(self._lease)
                return
            except KubeApiError as exc:
                self._failed("renew", exc)  # then read it and try once more, as client-go does
        s = self.settings
        try:
            lease = call(self.target, lambda: self._api.read_namespaced_lease(
                s.name, s.namespace, _request_timeout=self._timeout))
        except NotFound:
            self._hold(None)
            return
        self._observe(lease)
        if self.holder is not None and self._valid() and not self._holds():
            return  # someone else holds it and it has not expired on our clock
        self._hold(lease)

    def _hold(self, lease: client.V1Lease | None) -> None:
        """Write our record: create the Lease (``lease`` None), or replace ``lease`` conditionally on its
        resourceVersion, so that of two writers one gets 409. The renew deadline counts from before the call."""
        s, started = self.settings, self._clock()
        if lease is None:
            meta = client.V1ObjectMeta(name=s.name, namespace=s.namespace)
            body = client.V1Lease(metadata=meta, spec=self._spec(None))
            self._observe(call(self.target, lambda: self._api.create_namespaced_lease(
                s.namespace, body, _request_timeout=self._timeout)), at=started)
        else:
            self._replace(lease.model_copy(update={"spec": self._spec(lease.spec)}), at=started)
        self._renewed_at = started

    def _replace(self, lease: client.V1Lease, at: float) -> None:
        s = self.settings
        self._observe(call(self.target, lambda: self._api.replace_namespaced_lease(
            s.name, s.namespace, lease, _request_timeout=self._timeout)), at=at)

    def _spec(self, old: client.V1LeaseSpec | None) -> client.V1LeaseSpec:
        """Our record: acquireTime and leaseTransitions kept while we hold it, a new holder counts one more."""
        now, mine = self._wall(), old is not None and old.holder_identity == self.settings.identity
        transitions = (old.lease_transitions or 0) if old is not None else 0
        return client.V1LeaseSpec(
            holder_identity=self.settings.identity,
            lease_duration_seconds=math.ceil(self.settings.lease_duration_s),
            acquire_time=old.acquire_time if old is not None and mine and old.acquire_time else now,
            renew_time=now,
            lease_transitions=transitions if mine or old is None else transitions + 1)

    # --- observations ---------------------------------------------------------------------------------
    def _observe(self, lease: client.V1Lease, at: float | None = None) -> None:
        """Remember ``lease``; restart the expiry countdown if its record changed (or we just wrote it)."""
        record = _Record.of(lease)
        if at is not None or record != self._observed:
            self._observed, self._observed_at = record, self._clock() if at is None else at
        self._lease = lease

    def _holds(self) -> bool:
        return self.holder == self.settings.identity

    def _valid(self) -> bool:
        """The observed record has not expired on our clock (its own duration, else ours)."""
        if self._observed is None:
            return False
        duration = self._observed.duration_s or self.settings.lease_duration_s
        return self._observed_at + duration > self._clock()

    def _failed(self, what: str, exc: KubeApiError) -> None:
        self.errors += 1
        log.warning("%s: %s failed (%s): %s", self.target, what, type(exc).__name__, exc)
