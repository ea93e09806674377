"""One tick of the live service over every target and node pool, with leadership and the plan.

A tick is read → decide → act → export, as the backtest's step is simulate → decide → apply:

* **read** (a thread pool: the work is waiting on Prometheus and the API server): the clock once;
  per target its demand samples, queue and GPU queries and the scale subresource; per pool its
  backend's scale and, with health checks, its unusable GPUs;
* **decide**: :func:`forecastscale.policy.fleet.decide_fleet`, the very function the backtest calls —
  every target's policy on the history this replica owns, placement with spill-over and sharing,
  nodes per pool;
* **act** (threads): per target, patch the workload if leading and the count differs; a scale event
  enters the target's history only once the write succeeded; then each pool's backend;
* **export**: metrics, one JSON line per target, and (if leading) the plan.

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
from dataclasses import dataclass, field, replace
from typing import TypeVar

from forecastscale.actuators.base import Actuator, Outcome, ScaleState
from forecastscale.config import Config
from forecastscale.edge import shown
from forecastscale.errors import ForecastscaleError, NotLeader, TemporaryError
from forecastscale.kube.errors import KubeApiError
from forecastscale.policy import leadtimes
from forecastscale.policy.fleet import FleetDecision, FleetState, TargetInput, decide_fleet
from forecastscale.policy.placement import Placement
from forecastscale.service.events_api import EventStore
from forecastscale.service.exports import export_capacity, log_outcome
from forecastscale.service.health import HealthWatch
from forecastscale.service.leader import Elector
from forecastscale.service.leads import ReadyReader, export_leads, restored, writes
from forecastscale.service.metrics import ServiceMetrics, error_kind
from forecastscale.service.models import seed_models
from forecastscale.service.persistence import PlanKeeper, PlanSink
from forecastscale.service.pools import PoolOutcome, PoolView, TargetOutcome, read_pools, size_pools
from forecastscale.service.spill import apply_alternatives, report_stockouts, seed_spilled
from forecastscale.service.target import Sampled, TargetRunner
from forecastscale.sources.prometheus import PrometheusSource
from forecastscale.types import Decision, PoolState, Source, Window

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


@dataclass(frozen=True)
class _Read:
    """What one target's read gave this tick: its input to the fleet decision and what it was built from."""

    runner: TargetRunner
    scale: ScaleState
    sampled: Sampled
    side: dict[str, float]
    input: TargetInput

    @property
    def name(self) -> str:
        return self.runner.target.name


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
        self.actuators = dict(actuators)  # the targets' and their alternatives' (policy.spill keys) workloads
        self.keeper = PlanKeeper(None if dry_run else plan, metrics, leading=lambda: self.leader, clock=clock,
                                 identity=identity, term=lambda: self.elector.term if self.elector else None,
                                 leads=lambda: self.fleet.leads, restore_leads=self._restore_leads)
        self.ready = ReadyReader(config, source, metrics)  # every target's Ready pods, one query a tick
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
        self.fleet = FleetState()  # the fleet decision's own memory (pools' last plans, unneeded timers)
        self.placement = Placement(config)  # shapes and eligible pools, worked out once

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
        """Announced events in force for ``r`` from ``now`` to when nodes asked now are Ready, pre-warmed by its pod
        startup time."""
        return tuple(self.events.book.active(r.target.name, now, lead_s=r.lead.pod_s, ahead_s=r.lead.node_s))

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
        views = read_pools(self.pool_actuators, self.metrics)
        if self.health is not None:
            self.health.read(now)
        self._reachable.clear()
        self.ready.read(now)
        reads = list(self._pool.map(lambda r: self._contained(r.target.name, lambda: self._read(r, now)),
                                    self.runners))
        self.prometheus_ok = any(self._reachable)
        ok = [x for x in reads if isinstance(x, _Read)]
        self.fleet = seed_spilled(self.config, self.fleet, self.actuators)
        before = self.fleet
        fleet, self.fleet = decide_fleet(self.placement, {x.name: x.runner.policy for x in ok},
                                         {x.name: x.input for x in ok}, self._pool_states(views), self.fleet)
        acted = list(self._pool.map(lambda x: self._contained(x.name, lambda: self._act(x, fleet, now, may_patch)),
                                    ok))
        outcomes = _in_order(self.runners, [x for x in reads if isinstance(x, TargetOutcome)] + acted)
        for o in outcomes:
            if o.decision is not None and o.decision.source is not Source.HOLD and o.status != "error":
                self.decided_tick[o.target] = self.ticks
        pool_outcomes = size_pools(self.config, fleet, self.pool_actuators, views, may_patch, self.metrics,
                                   self.keeper.fence)
        report_stockouts(self.config, before, fleet, self.metrics)
        apply_alternatives(self.config, fleet, self.actuators, may_patch, self.metrics, self.keeper.fence)
        pods, nodes = writes(self.config, outcomes, pool_outcomes)  # lead times count from the writes made
        self.fleet = replace(self.fleet, leads=leadtimes.wrote(self.fleet.leads, now, pods, nodes))
        export_leads(self.metrics, self.config, self.fleet.leads)
        if may_patch:
            self.keeper.save(self.runners, self.events)
        return TickReport(now, leader, outcomes, pool_outcomes)

    def _restore_leads(self, saved: leadtimes.LeadBook) -> None:
        """The plan's lead times, where this replica measured none itself."""
        self.fleet = replace(self.fleet, leads=restored(self.fleet.leads, saved))

    def _pool_states(self, views: Mapping[str, PoolView]) -> dict[str, PoolState]:
        """Each pool as the fleet decision sees it: nodes as read (MachineDeployment pools), unusable GPUs."""
        lost = self.health.lost() if self.health else {}
        listed = self.health.ready_nodes if self.health else {}  # Ready nodes: what a node lead is timed on
        out = {}
        for pool in self.config.node_pools:
            view = views.get(pool.name) if pool.machine_deployment is not None else None
            out[pool.name] = PoolState(ready=view.ready if view else 0, starting=view.starting if view else 0,
                                       lost_gpus=lost.get(pool.name, 0), read=pool.name in views or
                                       pool.name not in self.pool_actuators, nodes_ready=listed.get(pool.name))
        return out

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

    def _read(self, r: TargetRunner, now: float) -> TargetOutcome | _Read:
        """One target's samples, side queries and scale; its input to the fleet decision."""
        name = r.target.name
        sampled = self._sample(r, now)
        side = self._side(r, now)
        try:
            scale = r.actuator.current()
        except KubeApiError as exc:
            return self._failed(name, exc, sampled.demand)
        self.metrics.current.labels(name).set(scale.spec_replicas)
        self.metrics.degraded.labels(name).set(0 if sampled.demand is not None else 1)
        ready = self.ready.of(r.target)
        export_capacity(self.metrics, r.target, scale, sampled.demand, self.config.service.tick_s, ready)
        events = self._events_for(r, now)
        r.export_events(now, events)
        return _Read(r, scale, sampled, side, r.input(now, scale, sampled, events, side, ready))

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
            log.warning("target %s: queue/GPU/KV-cache query: %s", r.target.name, exc)
            return {}

    def _act(self, x: _Read, fleet: FleetDecision, now: float, may_patch: bool) -> TargetOutcome:
        """Patch if this replica may and the count differs; record the scale event once made; export and log."""
        name, current = x.name, x.scale.spec_replicas
        decision, history = fleet.targets[name], fleet.histories[name]
        for source, replicas in decision.candidates.items():
            self.metrics.desired.labels(name, source).set(replicas)
        self.metrics.desired.labels(name, "final").set(decision.replicas)
        status = "ok" if x.input.missing_ticks == 0 else "degraded"
        if name in fleet.errors:
            self.metrics.errors.labels("internal").inc()
            log.error("target %s: the policy raised, holding: %s", name, fleet.errors[name])
            status = "error"
        action, change = ("held" if decision.source is Source.HOLD else "unchanged"), 0
        if decision.replicas != current and not may_patch:
            action = "standby"
        elif decision.replicas != current:
            try:
                result = x.runner.apply(decision.replicas, self.keeper.fence)
            except ForecastscaleError as exc:  # API errors, and NotLeader: fenced right before the write
                x.runner.settle(now, decision, history, 0)
                outcome = self._failed(name, exc, x.sampled.demand, decision, current)
                log_outcome(outcome, x.side)
                return outcome
            action = "dry-run" if result.outcome is Outcome.DRY_RUN else result.outcome.value
            change = decision.replicas - result.from_replicas if result.outcome is not Outcome.UNCHANGED else 0
            if result.changed:
                self.metrics.patches.labels("replicas").inc()
        x.runner.settle(now, decision, history, change)
        problem = fleet.errors.get(name) or (decision.message if status == "degraded" else None)
        outcome = TargetOutcome(name, status, action, x.sampled.demand, current, decision, problem)
        log_outcome(outcome, x.side)
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


def _in_order(runners: list[TargetRunner], outcomes: list[TargetOutcome]) -> list[TargetOutcome]:
    """``outcomes`` in the config's target order."""
    by_name = {o.target: o for o in outcomes}
    return [by_name[r.target.name] for r in runners if r.target.name in by_name]
