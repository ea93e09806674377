"""One tick of the live service over every target and node pool, with leadership and the plan.

A tick: read the clock once; if this replica just became leader, restore the persisted plan;
per target (in a thread pool: the work is waiting on Prometheus and the API server) pull samples,
read the scale, decide with the policy core or hold/fall back when data is missing; where a
pool's ``max_nodes`` cannot hold what its targets want, share it out (guaranteed minima, then
share × unmet demand); per target patch if leading, export and log one JSON line; then size node
pools; then, if leading, save the plan.

A tick never dies of one bad input. Errors are contained per target and per pool: a 403 on one
Deployment, a Prometheus outage, or a bug met by one target's data is logged, counted in
``forecastscale_errors_total{kind}`` (``internal`` for the unexpected) and retried next tick, while
the others go on; a failure of the tick itself is counted (``kind="tick"``) and the next tick runs.
``/readyz`` shows both (:mod:`forecastscale.service.readiness`). Every write is fenced: the
:class:`~forecastscale.service.persistence.PlanKeeper` checks leadership immediately before it is sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from forecastscale.actuators.base import Actuator, Outcome, ScaleState
from forecastscale.actuators.errors import KubeApiError
from forecastscale.config import Config
from forecastscale.edge import shown
from forecastscale.errors import ForecastscaleError, NotLeader, TemporaryError
from forecastscale.policy.placement import share_pools
from forecastscale.service.events_api import EventStore
from forecastscale.service.exports import export_capacity, log_outcome
from forecastscale.service.health import HealthWatch
from forecastscale.service.leader import Elector
from forecastscale.service.metrics import ServiceMetrics, error_kind
from forecastscale.service.models import seed_models
from forecastscale.service.persistence import PlanKeeper, PlanSink
from forecastscale.service.pools import PoolOutcome, TargetOutcome, read_pools, size_pools
from forecastscale.service.target import PoolView, Sampled, TargetRunner
from forecastscale.sources.prometheus import PrometheusSource
from forecastscale.types import Decision, Window

log = logging.getLogger("forecastscale.service")


@dataclass(frozen=True)
class TickReport:
    """Everything one tick did; ``ok`` is False if any target or pool ended in error or degraded, or the tick
    itself failed (``error``)."""

    at: float
    leader: bool
    targets: list[TargetOutcome]
    pools: list[PoolOutcome] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return (self.error is None and all(o.status == "ok" for o in self.targets)
                and all(p.error is None for p in self.pools))


T = TypeVar("T")


def _name(d: TargetOutcome | _Decided) -> str:
    return d.target if isinstance(d, TargetOutcome) else d.runner.target.name


@dataclass(frozen=True)
class _Decided:
    """A target's decision this tick, before the pools are shared out and it is applied."""

    runner: TargetRunner
    decision: Decision
    scale: ScaleState
    status: str
    sampled: Sampled
    side: dict[str, float]


class Service:
    """The live loop's state and one :meth:`tick`; scheduling lives in :mod:`forecastscale.service.loop`.

    ``actuators`` maps target name → actuator (pass :class:`~forecastscale.actuators.dryrun.DryRun`
    wrappers for ``--dry-run``); ``pool_actuators`` maps pool name → actuator of its nodes.
    ``clock`` returns seconds since the epoch. Without an ``elector`` this replica always leads.
    """

    def __init__(self, config: Config, source: PrometheusSource, actuators: Mapping[str, Actuator],
                 metrics: ServiceMetrics, *, pool_actuators: Mapping[str, Actuator] | None = None,
                 clock: Callable[[], float] = time.time, elector: Elector | None = None,
                 plan: PlanSink | None = None, dry_run: bool = False, health: HealthWatch | None = None,
                 identity: str | None = None) -> None:
        self.config, self.metrics, self.clock, self.health = config, metrics, clock, health
        self.elector, self.plan, self.dry_run = elector, plan, dry_run
        n = len(config.targets)
        # Target k refits k/n of an interval early the first time: refits spread over the ticks.
        self.runners = [TargetRunner(config, t, source, actuators[t.name], metrics,
                                     refit_phase_s=t.forecast.refit_interval_s * k / n)
                        for k, t in enumerate(config.targets)]
        if config.service.models_dir is not None:
            seed_models(self.runners, config.service.models_dir, metrics)
        self.pool_actuators = dict(pool_actuators or {})
        self.keeper = PlanKeeper(None if dry_run else plan, metrics, leading=lambda: self.leader, clock=clock,
                                 identity=identity, term=lambda: self.elector.term if self.elector else None)
        # Announced events (POST /v1/events): written to the plan before they are acknowledged.
        self.events = EventStore(self.keeper.save_events)
        self._pool = ThreadPoolExecutor(config.service.fetch_concurrency, thread_name_prefix="tick")
        self._ticking = threading.Lock()  # held by a tick; the election's eager restore waits for none
        self._reachable: list[bool] = []  # per target this tick: did Prometheus answer (list.append is atomic)
        self.prometheus_ok: bool | None = None  # None until a tick has asked
        self.last: TickReport | None = None
        self.ticks = 0  # ticks started
        self.failed_ticks = 0  # consecutive ticks that raised
        self.last_tick_at: float | None = None  # clock() at the start of the last tick
        self.decided_tick = {t.name: 0 for t in config.targets}  # the last tick each target decided in

    # --- leadership -------------------------------------------------------------------------------
    @property
    def leader(self) -> bool:
        """True if this replica may patch (no election, or it holds the Lease)."""
        return self.elector is None or self.elector.is_leader

    def elect(self) -> bool:
        """One election round (called every retry period); returns whether this replica leads."""
        if self.elector is None:
            return True
        leading = self.elector.try_acquire_or_renew()
        self.metrics.leader.set(1 if leading else 0)
        # Read the plan as soon as the Lease is ours, not at the next tick: the events API takes changes only
        # once it is read. Then save at once what this replica saw as a standby (the newest recommendations
        # may have died with the former leader). Never during a tick (it may be deciding with these histories).
        if leading and not self.keeper.restored and self._ticking.acquire(blocking=False):
            try:
                if self.keeper.restore(self.runners, self.events):
                    self.keeper.save(self.runners, self.events)
            finally:
                self._ticking.release()
        return leading

    def _events_for(self, r: TargetRunner, now: float) -> tuple[Window, ...]:
        """Announced events in force for ``r`` at ``now``, pre-warmed by its pod startup time."""
        return tuple(self.events.book.active(r.target.name, now, lead_s=r.target.pod_startup_s))

    # --- the tick ---------------------------------------------------------------------------------
    def tick(self) -> TickReport:
        """One pass over every target and pool at ``clock()``; never raises (failures are contained, counted,
        and shown in ``/readyz``)."""
        started = time.perf_counter()
        self.ticks += 1
        try:
            now = self.clock()
            self.last_tick_at = now
            with self._ticking:
                report = self._tick(now)
            self.failed_ticks = 0
        except Exception as exc:  # the last line: whatever one input did, the next tick runs as usual
            self.failed_ticks += 1
            self.metrics.errors.labels("tick").inc()
            log.exception("tick failed (%d in a row); the next tick runs as usual", self.failed_ticks)
            report = TickReport(self.last_tick_at or 0.0, self.leader, [],
                                error=f"{type(exc).__name__}: {shown(str(exc))}")
        self.metrics.tick.observe(time.perf_counter() - started)
        self.last = report
        return report

    def _tick(self, now: float) -> TickReport:
        leader = self.leader
        if not leader:
            self.keeper.step_down()
        elif not self.keeper.restored:
            self.keeper.restore(self.runners, self.events)
        may_patch = leader and self.keeper.restored
        self.metrics.leader.set(1 if leader else 0)
        pools = read_pools(self.pool_actuators, self.metrics)
        if self.health is not None:
            self.health.read(now)
        self._reachable.clear()
        decided = list(self._pool.map(lambda r: self._contained(r.target.name, lambda: self._decide(r, now, pools)),
                                      self.runners))
        self.prometheus_ok = any(self._reachable)
        caps = share_pools(self.config, {d.runner.target.name: d.decision.replicas for d in decided
                                         if isinstance(d, _Decided)}, self.health.lost() if self.health else None)
        outcomes = list(self._pool.map(lambda d: self._contained(_name(d), lambda: self._finish(
            d, caps, now, may_patch)), decided))
        for o in outcomes:
            if o.decision is not None:
                self.decided_tick[o.target] = self.ticks
        pool_outcomes = size_pools(self.config, self.runners, outcomes, self.pool_actuators, pools, may_patch,
                                   self.metrics, self.health.replacement_nodes() if self.health else None,
                                   fence=self.keeper.fence)
        if may_patch:
            self.keeper.save(self.runners, self.events)
        return TickReport(now, leader, outcomes, pool_outcomes)

    def _contained(self, name: str, step: Callable[[], T]) -> T | TargetOutcome:
        """``step()``, or an error outcome for target ``name`` if it raised anything: one target's bad input
        or a bug it meets never stops the others."""
        try:
            return step()
        except Exception as exc:  # contained on purpose: counted as internal, logged with its traceback
            self.metrics.errors.labels("internal").inc()
            log.exception("target %s: unexpected error, contained (the other targets go on)", name)
            return TargetOutcome(name, "error", "error", error=f"internal: {type(exc).__name__}: {shown(str(exc))}")

    def stale_targets(self) -> list[str]:
        """Targets without a decision in the last ``service.stale_after_ticks`` ticks (shown in ``/readyz``)."""
        limit = self.config.service.stale_after_ticks
        return [name for name, at in self.decided_tick.items() if self.ticks - at > limit]

    def _finish(self, d: TargetOutcome | _Decided, caps: Mapping[str, tuple[int, str]], now: float,
                may_patch: bool) -> TargetOutcome:
        """Act on a decision (cut first if its pool is full and shared); outcomes already final pass."""
        if isinstance(d, TargetOutcome):
            return d
        decision = d.decision
        cap = caps.get(d.runner.target.name)
        if cap is not None:
            decision = d.runner.capped(now, decision, d.scale.spec_replicas, *cap)
        return self._act(d.runner, decision, d.scale, now, may_patch, d.status, d.sampled, d.side)

    def _decide(self, r: TargetRunner, now: float, pools: Mapping[str, PoolView]) -> TargetOutcome | _Decided:
        name = r.target.name
        sampled = self._sample(r, now)
        side = self._side(r, now)
        try:
            scale = r.actuator.current()
        except KubeApiError as exc:
            return self._failed(name, exc, sampled.demand)
        self.metrics.current.labels(name).set(scale.spec_replicas)
        self.metrics.degraded.labels(name).set(0 if sampled.demand is not None else 1)
        export_capacity(self.metrics, r.target, scale, sampled.demand, self.config.service.tick_s)
        if sampled.demand is None:
            decision = r.fallback(scale, self.config.service.fallback_after_ticks, sampled.problem or "no data")
            if decision is None:
                outcome = TargetOutcome(name, "degraded", "held", None, scale.spec_replicas, r.last,
                                        f"{sampled.problem}; holding {scale.spec_replicas} ({r.failures} ticks)")
                log_outcome(outcome, side)
                return outcome
        else:
            decision = r.decide(now, scale, pools.get(r.pool.name, PoolView()), self._events_for(r, now), side)
        status = "ok" if sampled.demand is not None else "degraded"
        return _Decided(r, decision, scale, status, sampled, side)

    def _sample(self, r: TargetRunner, now: float) -> Sampled:
        try:
            sampled = r.sample(now)
            self._reachable.append(True)
            return sampled
        except ForecastscaleError as exc:
            self._reachable.append(not isinstance(exc, TemporaryError))
            self.metrics.errors.labels(error_kind(exc)).inc()
            log.warning("target %s: %s", r.target.name, exc)
            return Sampled(None, f"prometheus: {exc}")

    def _side(self, r: TargetRunner, now: float) -> dict[str, float]:
        try:
            return r.side_metrics(now)
        except ForecastscaleError as exc:
            self.metrics.errors.labels(error_kind(exc)).inc()
            log.warning("target %s: queue/GPU query: %s", r.target.name, exc)
            return {}

    def _act(self, r: TargetRunner, decision: Decision, scale: ScaleState, now: float, may_patch: bool,
             status: str, sampled: Sampled, side: dict[str, float]) -> TargetOutcome:
        """Patch if this replica may and the count differs; export and log the outcome."""
        name = r.target.name
        for source, replicas in decision.candidates.items():
            self.metrics.desired.labels(name, source).set(replicas)
        self.metrics.desired.labels(name, "final").set(decision.replicas)
        action = "unchanged" if decision.replicas == scale.spec_replicas else "standby"
        if action == "standby" and not may_patch:
            r.not_applied(now)
        elif action == "standby":
            try:
                result = r.apply(decision.replicas, self.keeper.fence)
            except ForecastscaleError as exc:  # API errors, and NotLeader: fenced right before the write
                r.not_applied(now)
                outcome = self._failed(name, exc, sampled.demand, decision, scale.spec_replicas)
                log_outcome(outcome, side)
                return outcome
            action = "dry-run" if result.outcome is Outcome.DRY_RUN else result.outcome.value
            if result.changed:
                self.metrics.patches.labels("replicas").inc()
        outcome = TargetOutcome(name, status, action, sampled.demand, scale.spec_replicas, decision)
        log_outcome(outcome, side)
        return outcome

    def _failed(self, name: str, exc: ForecastscaleError, demand: float | None, decision: Decision | None = None,
                current: int | None = None) -> TargetOutcome:
        self.metrics.errors.labels(error_kind(exc)).inc()
        if isinstance(exc, NotLeader):
            log.warning("target %s: write fenced, nothing sent: %s", name, exc)
            return TargetOutcome(name, "ok", "fenced", demand, current, decision, str(exc))
        log.error("target %s: %s", name, exc)
        return TargetOutcome(name, "error", "error", demand, current, decision, str(exc))

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=True)
