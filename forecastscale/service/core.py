"""One tick of the live service over every target and node pool, with leadership and the plan.

A tick: read the clock once; if this replica just became leader, restore the persisted plan;
per target (in a thread pool: the work is waiting on Prometheus and the API server) pull samples,
read the scale, decide with the policy core or hold/fall back when data is missing; where a
pool's ``max_nodes`` cannot hold what its targets want, share it out (guaranteed minima, then
share × unmet demand); per target patch if leading, export and log one JSON line; then size node
pools; then, if leading, save the plan.
Errors are contained per target: a 403 on one Deployment or a Prometheus outage never stops the
loop, it is logged, counted in ``forecastscale_errors_total{kind}`` and retried next tick.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from forecastscale.actuators.base import Actuator, Outcome, ScaleState
from forecastscale.actuators.errors import KubeApiError
from forecastscale.config import Config
from forecastscale.errors import ForecastscaleError, TemporaryError
from forecastscale.policy.placement import share_pools
from forecastscale.service.events_api import EventStore
from forecastscale.service.health import HealthWatch
from forecastscale.service.metrics import ServiceMetrics, error_kind
from forecastscale.service.models import seed_models
from forecastscale.service.plan_codec import events_entry, merge_plan, merged_events, plan_entry
from forecastscale.service.pools import PoolOutcome, TargetOutcome, size_pools
from forecastscale.service.target import PoolView, Sampled, TargetRunner
from forecastscale.sources.prometheus import PrometheusSource
from forecastscale.types import Decision, Window

log = logging.getLogger("forecastscale.service")
decisions_log = logging.getLogger("forecastscale.decisions")


class Elector(Protocol):
    """What the service needs of a leader elector (see :class:`forecastscale.service.leader.LeaseElector`)."""

    rounds: int  # election rounds done: leader-or-standby is known once > 0

    @property
    def is_leader(self) -> bool: ...

    def try_acquire_or_renew(self) -> bool: ...

    def release(self) -> bool: ...


class PlanSink(Protocol):
    """What the service needs of a plan store (see :class:`forecastscale.service.plan.PlanStore`)."""

    def load(self) -> dict[str, Any] | None: ...

    def save(self, plan: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class TickReport:
    """Everything one tick did; ``ok`` is False if any target or pool ended in error or degraded."""

    at: float
    leader: bool
    targets: list[TargetOutcome]
    pools: list[PoolOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.status == "ok" for o in self.targets) and all(p.error is None for p in self.pools)


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
                 plan: PlanSink | None = None, dry_run: bool = False, health: HealthWatch | None = None) -> None:
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
        self.events = EventStore()  # announced events (POST /v1/events); persisted with the plan
        self._pool = ThreadPoolExecutor(config.service.fetch_concurrency, thread_name_prefix="tick")
        self._restored = False
        self._reachable: list[bool] = []  # per target this tick: did Prometheus answer (list.append is atomic)
        self.prometheus_ok: bool | None = None  # None until a tick has asked
        self.last: TickReport | None = None

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
        return leading

    def _restore(self) -> bool:
        """Merge the persisted plan into every target's behaviour history; False if it cannot be read."""
        if self.plan is None:
            return True
        try:
            plan = self.plan.load()
        except ForecastscaleError as exc:
            self.metrics.errors.labels("plan").inc()
            log.error("cannot restore the plan, will retry next tick (no plan is saved meanwhile): %s", exc)
            return False
        restored = merge_plan(plan, self.runners)
        self._merge_events(plan)
        log.info("restored the plan for %d of %d targets", restored, len(self.runners))
        return True

    def _save(self, now: float) -> None:
        if self.plan is None or self.dry_run:
            return
        self.events.expire(now)
        plan = {"version": 1, "saved_at": now, "targets": {r.target.name: plan_entry(r) for r in self.runners},
                "events": events_entry(self.events.book)}
        try:
            self.plan.save(plan)
            self.metrics.patches.labels("plan").inc()
        except ForecastscaleError as exc:
            self.metrics.errors.labels("plan").inc()
            log.error("cannot save the plan: %s", exc)

    def _merge_events(self, plan: Mapping[str, Any] | None) -> None:
        """Add the plan's announced events to ours: they outlive a failover."""
        try:
            book, restored = merged_events(self.events.book, plan)
        except ValueError as exc:
            self.metrics.errors.labels("plan").inc()
            log.error("plan: announced events unreadable, ignored: %s", exc)
            return
        self.events.replace(book)
        log.info("restored %d announced events from the plan", restored)

    def _events_for(self, r: TargetRunner, now: float) -> tuple[Window, ...]:
        """Announced events in force for ``r`` at ``now``, pre-warmed by its pod startup time."""
        return tuple(self.events.book.active(r.target.name, now, lead_s=r.target.pod_startup_s))

    # --- the tick ---------------------------------------------------------------------------------
    def tick(self) -> TickReport:
        """One pass over every target and pool at ``clock()``; never raises for a target's failure."""
        started = time.perf_counter()
        now = self.clock()
        leader = self.leader
        if not leader:
            self._restored = False  # a later leadership must restore again: the leader moved on
        elif not self._restored:
            self._restored = self._restore()
        may_patch = leader and self._restored
        self.metrics.leader.set(1 if leader else 0)
        pools = self._read_pools()
        if self.health is not None:
            self.health.read(now)
        self._reachable.clear()
        decided = list(self._pool.map(lambda r: self._decide(r, now, pools), self.runners))
        self.prometheus_ok = any(self._reachable)
        caps = share_pools(self.config, {d.runner.target.name: d.decision.replicas for d in decided
                                         if isinstance(d, _Decided)}, self.health.lost() if self.health else None)
        outcomes = list(self._pool.map(lambda d: self._finish(d, caps, now, may_patch), decided))
        pool_outcomes = size_pools(self.config, self.runners, outcomes, self.pool_actuators, pools, may_patch,
                                   self.metrics, self.health.replacement_nodes() if self.health else None)
        if may_patch:
            self._save(now)
        self.metrics.tick.observe(time.perf_counter() - started)
        self.last = TickReport(now, leader, outcomes, pool_outcomes)
        return self.last

    def _read_pools(self) -> dict[str, PoolView]:
        views: dict[str, PoolView] = {}
        for name, actuator in self.pool_actuators.items():
            try:
                state = actuator.current()
            except KubeApiError as exc:
                self.metrics.errors.labels(error_kind(exc)).inc()
                log.error("node pool %s: %s", name, exc)
                continue
            views[name] = PoolView(min(state.status_replicas, state.spec_replicas),
                                   max(0, state.spec_replicas - state.status_replicas))
        return views

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
        self._export_capacity(r, scale, sampled.demand)
        if sampled.demand is None:
            decision = r.fallback(scale, self.config.service.fallback_after_ticks, sampled.problem or "no data")
            if decision is None:
                outcome = TargetOutcome(name, "degraded", "held", None, scale.spec_replicas, r.last,
                                        f"{sampled.problem}; holding {scale.spec_replicas} ({r.failures} ticks)")
                self._log(outcome, side)
                return outcome
        else:
            decision = r.decide(now, scale, pools.get(r.pool.name, PoolView()), self._events_for(r, now), side)
        status = "ok" if sampled.demand is not None else "degraded"
        return _Decided(r, decision, scale, status, sampled, side)

    def _export_capacity(self, r: TargetRunner, scale: ScaleState, demand: float | None) -> None:
        """Ready capacity (ready replicas × capacity_per_replica) and whether demand is above it."""
        name = r.target.name
        capacity = min(scale.status_replicas, scale.spec_replicas) * r.target.capacity_per_replica
        self.metrics.ready_capacity.labels(name).set(capacity)
        under = self.metrics.under_s.labels(name)  # the series exists from the first tick, at 0
        if demand is None:
            return  # no sample: neither under- nor over-provisioned is known
        self.metrics.under.labels(name).set(1 if demand > capacity + 1e-9 else 0)
        if demand > capacity + 1e-9:
            under.inc(self.config.service.tick_s)

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
                result = r.apply(decision.replicas)
            except KubeApiError as exc:
                r.not_applied(now)
                outcome = self._failed(name, exc, sampled.demand, decision, scale.spec_replicas)
                self._log(outcome, side)
                return outcome
            action = "dry-run" if result.outcome is Outcome.DRY_RUN else result.outcome.value
            if result.changed:
                self.metrics.patches.labels("replicas").inc()
        outcome = TargetOutcome(name, status, action, sampled.demand, scale.spec_replicas, decision)
        self._log(outcome, side)
        return outcome

    def _failed(self, name: str, exc: KubeApiError, demand: float | None, decision: Decision | None = None,
                current: int | None = None) -> TargetOutcome:
        self.metrics.errors.labels(error_kind(exc)).inc()
        log.error("target %s: %s", name, exc)
        return TargetOutcome(name, "error", "error", demand, current, decision, str(exc))

    def _log(self, o: TargetOutcome, side: Mapping[str, float]) -> None:
        d = o.decision
        record = {
            "target": o.target, "status": o.status, "action": o.action, "demand": o.demand, "current": o.current,
            "desired": d.replicas if d else None, "nodes": d.nodes if d else None,
            "reason": d.reason if d else None, "candidates": dict(d.candidates) if d else {},
            "forecast": {f"{h:g}s": round(v, 4) for h, v in d.forecast.items()} if d else {},
            **side, "message": o.error or (d.message if d else ""),
        }
        decisions_log.info(json.dumps(record, ensure_ascii=False))

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=True)
