"""The leader's plan: restored once per leadership, then every write fenced and conditional.

Three promises, kept here in one place:

* **Nothing acknowledged is lost.** ``/v1/events`` changes are written to the plan ConfigMap by
  :meth:`PlanKeeper.save_events` *before* the API answers 2xx; a failed write raises
  :class:`NotPersisted` and the change is not applied in memory either.
* **Nothing stale writes.** :meth:`PlanKeeper.fence` (called immediately before every write:
  plan, scale, MachineDeployment, balloon) refuses unless this replica holds the Lease *and* has
  restored the plan since it became leader. Plan writes carry the ConfigMap version this leader
  last read or wrote; a 409 means someone else wrote since, so the keeper stops writing until the
  next tick has re-read and merged (never "re-read and overwrite").
* **Deletions stay deleted.** Events merge by newest action per id with tombstones
  (:meth:`forecastscale.policy.events.EventBook.merge`), so neither a former leader's memory nor an
  older plan can bring a deleted event back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from forecastscale.errors import ForecastscaleError, NotLeader
from forecastscale.kube.errors import Conflict
from forecastscale.policy.event_book import EventBook
from forecastscale.policy.leadtimes import LeadBook
from forecastscale.service.events_api import EventStore, NotPersisted
from forecastscale.service.metrics import ServiceMetrics
from forecastscale.service.plan import PlanSnapshot
from forecastscale.service.plan_codec import decode, encode, history_entry, merged, plan_entry
from forecastscale.service.target import TargetRunner

log = logging.getLogger("forecastscale.service")


class PlanSink(Protocol):
    """What the keeper needs of a plan store (see :class:`forecastscale.service.plan.PlanStore`)."""

    def read(self) -> PlanSnapshot: ...

    def write(self, plan: Mapping[str, Any], version: str | None) -> str: ...


class PlanKeeper:
    """The plan of one replica: ``store`` None (dry-run, no cluster) keeps nothing and accepts no event.

    ``leading()`` says whether this replica holds the Lease now; ``term()`` the Lease's transitions
    count when it took it (the plan records it); ``clock()`` UNIX seconds for ``saved_at``.
    """

    def __init__(self, store: PlanSink | None, metrics: ServiceMetrics, *, leading: Callable[[], bool],
                 clock: Callable[[], float], identity: str | None = None,
                 term: Callable[[], int | None] = lambda: None, leads: Callable[[], LeadBook] | None = None,
                 restore_leads: Callable[[LeadBook], None] | None = None) -> None:
        self.store, self.metrics = store, metrics
        # The lead times measured: read for every save, handed over when a plan is restored.
        self._leads, self._restore_leads = leads, restore_leads
        self._leading, self._clock, self._term, self.identity = leading, clock, term, identity
        self._lock = threading.RLock()  # the tick's save and the events API's writes, one at a time
        self.restored = store is None  # nothing to restore without a store
        self.version: str | None = None  # the ConfigMap version last read or written: the fencing token
        self._targets: dict[str, dict[str, Any]] = {}  # the targets section as last read or written

    def fence(self) -> None:
        """Raise :class:`~forecastscale.errors.NotLeader` unless this replica may write right now."""
        if not self._leading():
            raise NotLeader("this replica does not hold the Lease (standby, or the Lease was lost)")
        if not self.restored:
            raise NotLeader("the plan has not been (re)read since this replica became leader")

    def step_down(self) -> None:
        """Not leading: a later leadership must read the plan again (the new leader moved it on)."""
        with self._lock:
            self.restored = self.store is None

    # --- restore ------------------------------------------------------------------------------------
    def restore(self, runners: Sequence[TargetRunner], events: EventStore) -> bool:
        """Read the plan and merge it into every runner's behaviour history and into ``events``; False (retry
        next tick, write nothing meanwhile) if it cannot be read or a later leader's term wrote it."""
        if self.store is None:
            return True
        with self._lock:
            try:
                snapshot = self.store.read()
            except ForecastscaleError as exc:
                return self._failed("plan", f"cannot read the plan, will retry next tick (nothing is written "
                                            f"meanwhile): {exc}")
            decoded = decode(snapshot.plan, self._clock(), [r.target.name for r in runners])  # never raises
            if (mine := self._term()) is not None and decoded.term is not None and decoded.term > mine:
                return self._failed("not_leader", f"the plan was written in Lease term {decoded.term}, after ours "
                                                  f"({mine}): this replica is not the leader any more")
            self._report(snapshot, decoded.problems)
            now = self._clock()
            for r in runners:
                if (saved := decoded.targets.get(r.target.name)) is not None:
                    last = decoded.last.get(r.target.name)
                    r.history = replace(r.history, behavior=merged(r.history.behavior, saved,
                                                                   None if last is None else (now, last)),
                                        calibration=decoded.calibration.get(r.target.name, r.history.calibration),
                                        guardrail=decoded.guardrail.get(r.target.name, r.history.guardrail))
            events.replace(events.book.merge(decoded.book))
            if decoded.leads is not None and self._restore_leads is not None:
                self._restore_leads(decoded.leads)
            self._targets = {name: history_entry(h, decoded.last.get(name), decoded.calibration.get(name),
                                                 decoded.guardrail.get(name))
                             for name, h in decoded.targets.items()}
            self.version, self.restored = snapshot.version, True
            log.info("restored the plan (version %s) for %d of %d targets, %d announced events",
                     snapshot.version, len(decoded.targets), len(runners), len(events.book))
            return True

    def _report(self, snapshot: PlanSnapshot, problems: list[str]) -> None:
        if snapshot.corrupt is not None:
            self.metrics.errors.labels("plan_corrupt").inc()
            log.error("%s; starting from an empty plan (the next save replaces it)", snapshot.corrupt)
        for problem in problems:
            self.metrics.errors.labels("plan_invalid").inc()
            log.error("plan: %s; left out", problem)

    def _failed(self, kind: str, message: str) -> bool:
        self.metrics.errors.labels(kind).inc()
        log.error("%s", message)
        return False

    # --- writes -------------------------------------------------------------------------------------
    def save(self, runners: Sequence[TargetRunner], events: EventStore) -> bool:
        """The tick's save: every target's history and the events in force; False (counted, logged) if not."""
        if self.store is None:
            return True
        with self._lock:
            targets = {**self._targets, **{r.target.name: plan_entry(r) for r in runners}}
            try:
                self._write(targets, events.book.expire(self._clock()))
            except ForecastscaleError as exc:
                kind = "not_leader" if isinstance(exc, NotLeader) else "plan"
                return self._failed(kind, f"cannot save the plan: {exc}")
            self.metrics.patches.labels("plan").inc()
            return True

    def save_events(self, book: EventBook) -> None:
        """Persist ``book`` before the events API acknowledges it; :class:`NotPersisted` if it was not stored."""
        if self.store is None:
            raise NotPersisted("this replica keeps no plan (--dry-run or no cluster): events cannot be persisted")
        with self._lock:
            try:
                self._write(self._targets, book)
            except ForecastscaleError as exc:
                self.metrics.errors.labels("not_leader" if isinstance(exc, NotLeader) else "plan").inc()
                raise NotPersisted(f"not stored: {exc}") from exc
            self.metrics.patches.labels("plan").inc()

    def _write(self, targets: dict[str, dict[str, Any]], book: EventBook) -> None:
        """One fenced, conditional write; a 409 stops writing until the plan is read and merged again."""
        assert self.store is not None
        self.fence()
        plan = encode(targets, book, self._clock(), self.identity, self._term(),
                      self._leads() if self._leads is not None else None)
        try:
            self.version = self.store.write(plan, self.version)
        except Conflict:
            self.restored = False  # someone wrote since our version: read and merge before writing again
            raise
        self._targets = targets
