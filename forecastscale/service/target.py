"""One scaled workload in the live loop: pull samples, decide with the policy core, patch, export.

:class:`TargetRunner` owns everything the loop keeps per target in memory: the demand history
window, the policy (with its fitted forecaster, refit on schedule, and its behaviour history),
the failed-tick count for the fallback, and the forecasts awaiting their actuals. The decision
itself is :meth:`forecastscale.policy.base.Policy.decide`, the very call the backtest makes.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np

from forecastscale.actuators.base import Actuator, ApplyResult, Fence, ScaleState
from forecastscale.config import Config, NodePool, Target
from forecastscale.forecasters.select import Selection
from forecastscale.policy.events import windows_at
from forecastscale.policy.predictive import PredictivePolicy, make_tape
from forecastscale.policy.reactive import ReactivePolicy
from forecastscale.service.history import DemandHistory, problem_counts
from forecastscale.service.metrics import ServiceMetrics
from forecastscale.sources.prometheus import PrometheusSource
from forecastscale.types import Decision, FloatArray, Observation, Window

MEDIAN = 0.5
log = logging.getLogger("forecastscale.service")


@dataclass(frozen=True)
class PoolView:
    """A node pool's scale as read this tick (nodes); zeros when the pool is not managed."""

    ready: int = 0
    starting: int = 0


@dataclass(frozen=True)
class Sampled:
    """What Prometheus said this tick: the newest demand step (None if unusable) and why not."""

    demand: float | None
    problem: str | None


def make_policy(name: str, target: Target, pool: NodePool, step_s: float,
                refit_phase_s: float = 0.0) -> PredictivePolicy | ReactivePolicy:
    """The live policy: the backtest's class, fitting on the clock's grid and keeping few fits.

    ``refit_phase_s`` brings the first refit forward (see :class:`RollingForecast`).
    """
    if name == "reactive":
        return ReactivePolicy(target, pool)
    tape = make_tape(target, pool, step_s, step_s, quantiles=(MEDIAN,), keep=2)
    return PredictivePolicy(target, pool, step_s, step_s, tape, refit_phase_s)


class TargetRunner:
    """The per-target state and steps of one tick (the caller sequences them and handles errors)."""

    def __init__(self, config: Config, target: Target, source: PrometheusSource, actuator: Actuator,
                 metrics: ServiceMetrics, refit_phase_s: float = 0.0) -> None:
        self.target, self.pool = target, config.pool_for(target)
        self.step = config.service.tick_s
        self.source, self.actuator, self.metrics = source, actuator, metrics
        demand = config.query(target, "demand")
        if demand is None:
            raise ValueError(f"target {target.name!r}: no demand_query and no service.queries.demand")
        self.demand_query = demand
        self.side_queries = {"queue": config.query(target, "queue"),
                             "gpu_utilisation": config.query(target, "gpu_utilisation")}
        self.policy = make_policy(config.service.policy, target, self.pool, self.step, refit_phase_s)
        # The fit window plus one fit bucket, so a fit never lacks its oldest bucket.
        self.history = DemandHistory(math.ceil((target.forecast.history_s() + target.forecast.step_s) / self.step))
        self.failures = 0  # consecutive ticks without a usable demand sample
        self.last: Decision | None = None
        self._pod_steps = math.ceil(target.pod_startup_s / self.step)
        self._pending: dict[int, float] = {}  # absolute step → median forecast made for it
        self.model: str | None = None  # the forecaster in use, as last exported
        self._errors: deque[float] = deque(maxlen=config.service.error_window)

    # --- samples ----------------------------------------------------------------------------------
    def sample(self, now: float) -> Sampled:
        """Bring the history up to the last completed step before ``now`` (seconds since the epoch).

        The first call loads the whole window with range queries; later calls need one instant
        query per tick, or a range query over the steps missed while Prometheus was away.
        """
        newest = math.floor(now / self.step) - 1
        if len(self.history) == 0:
            self._load(newest - self.history.window + 1, newest)
        elif newest >= self.history.end + 1:
            self._load(self.history.end, newest)
        elif newest == self.history.end:
            value = self.source.instant(self.demand_query, self._at(newest))
            self._store(newest, np.array([math.nan if value is None else value * self.target.demand_scale]))
        demand = self.history.last_usable() if self.history.end == newest + 1 else None
        problem = None if demand is not None else self._problem_at(newest)
        if demand is not None:
            self.metrics.demand.labels(self.target.name).set(demand)
            self._score_forecast(newest, demand)
        return Sampled(demand, problem)

    def _at(self, step: int) -> datetime:
        return datetime.fromtimestamp((step + 1) * self.step, tz=UTC)  # step k ends at (k+1)·step_s

    def _load(self, first: int, last: int) -> None:
        values = self.source.grid(self.demand_query, self._at(first), self._at(last), self.step)
        self._store(first, values * self.target.demand_scale)

    def _store(self, first: int, values: FloatArray) -> None:
        """Put ``values`` in the history; unusable ones become NaN and are counted by reason."""
        for reason, n in problem_counts(values).items():
            self.metrics.dropped.labels(self.target.name, reason).inc(n)
        clean: FloatArray = np.where(np.isfinite(values) & (values >= 0), values, math.nan)
        self.history.put(first, clean)

    def _problem_at(self, step: int) -> str:
        return "no sample for the last completed step" if self.history.end <= step else "unusable sample"

    def side_metrics(self, now: float) -> dict[str, float]:
        """Queue depth and GPU utilisation now, where configured: exported, logged, and given to the
        policy's ``queue``/``gpu_utilisation`` metric rules."""
        out: dict[str, float] = {}
        at = datetime.fromtimestamp(math.floor(now / self.step) * self.step, tz=UTC)
        for kind, gauge in (("queue", self.metrics.queue), ("gpu_utilisation", self.metrics.gpu)):
            query = self.side_queries[kind]
            if query is None:
                continue
            value = self.source.instant(query, at)
            if value is not None and math.isfinite(value):
                gauge.labels(self.target.name).set(value)
                out[kind] = value
        return out

    # --- decision ---------------------------------------------------------------------------------
    def observation(self, now: float, scale: ScaleState, pool: PoolView, events: tuple[Window, ...] = (),
                    side: Mapping[str, float] | None = None) -> Observation:
        """What the policy may know now: history to the last completed step, the cluster as read."""
        ready = min(scale.status_replicas, scale.spec_replicas)
        offset, history = self.history.filled()
        return Observation(
            t=now, step_s=self.step, demand_history=history,
            current_replicas=scale.spec_replicas, ready_replicas=ready, starting_replicas=0,
            # The scale subresource does not say which pods are Ready; running-but-unready pods
            # count as ready, and pods the controller has not created yet as pending.
            pending_replicas=max(0, scale.spec_replicas - ready),
            nodes_ready=pool.ready, nodes_starting=pool.starting, history_offset=offset, wall_s=now,
            queue=(side or {}).get("queue"), gpu_utilisation=(side or {}).get("gpu_utilisation"), events=events,
        )

    def decide(self, now: float, scale: ScaleState, pool: PoolView, events: tuple[Window, ...] = (),
               side: Mapping[str, float] | None = None) -> Decision:
        """The policy's decision (the backtest's ``decide``) plus the forecasts it rests on, exported."""
        decision = self.policy.decide(self.observation(now, scale, pool, events, side))
        self.failures, self.last = 0, decision
        self._export_forecast(math.floor(now / self.step))
        self._export_events(now, events)
        return decision

    def _export_events(self, now: float, announced: tuple[Window, ...]) -> None:
        """How many event windows are in force now: the announced ones given, and the cron schedules'."""
        self.metrics.events_active.labels(self.target.name).set(len(windows_at(self.target, announced, now)))

    def fallback(self, scale: ScaleState, after_ticks: int, why: str) -> Decision | None:
        """After a tick without usable demand: None (hold) or a fallback decision that never scales down."""
        self.failures += 1
        fallback = self.target.fallback_replicas
        if fallback is None or self.failures < after_ticks:
            return None
        replicas = max(fallback, scale.spec_replicas)  # missing data never scales down
        nodes = self.last.nodes if self.last is not None else 0
        message = (f"{why}; {self.failures} ticks without data ≥ {after_ticks}: "
                   f"max(fallback {fallback}, current {scale.spec_replicas}) = {replicas}")
        return Decision(replicas, nodes, "fallback", message, {"fallback": fallback})

    def not_applied(self, now: float) -> None:
        """Forget the scale event the policy recorded at ``now``: the change was not made.

        The policy records an event whenever it decides a change (in the backtest every decision
        is applied); like the HPA, which stores an event only after a successful update, the
        live loop takes it back when the write failed or this replica is a standby, so rate
        limits count only real changes.
        """
        h = self.policy.behavior
        self.policy.behavior = replace(h, events=tuple(e for e in h.events if e[0] != now))

    def capped(self, now: float, decision: Decision, current: int, replicas: int, why: str) -> Decision:
        """``decision`` cut to ``replicas`` by a full pool's arbitration; the recorded scale event follows."""
        self.not_applied(now)
        h = self.policy.behavior
        if replicas != current:
            self.policy.behavior = replace(h, events=(*h.events, (now, replicas - current)))
        self.last = replace(decision, replicas=replicas, reason=f"{decision.reason}/capped:share",
                            message=f"{decision.message}; {why}",
                            candidates={**decision.candidates, "capped": replicas})
        return self.last

    def apply(self, replicas: int, fence: Fence | None = None) -> ApplyResult:
        """Patch the workload (the actuator writes only if ``spec.replicas`` differs; ``fence()`` right before)."""
        return self.actuator.apply(replicas, fence)

    # --- forecast bookkeeping ---------------------------------------------------------------------
    def seed_model(self, selection: Selection) -> bool:
        """Start ``auto`` from a trained choice; False if this target does not select (not auto)."""
        chooser = self.policy.forecast.tape.chooser if isinstance(self.policy, PredictivePolicy) else None
        if chooser is None:
            return False
        chooser.seed(selection)
        return True

    def _export_model(self) -> None:
        if not isinstance(self.policy, PredictivePolicy):
            return
        tape = self.policy.forecast.tape
        chooser = tape.chooser
        model = tape.settings.model if chooser is None else chooser.alias_for_now()
        if model == self.model:
            return
        if self.model is not None:
            self.metrics.model.labels(self.target.name, self.model).set(0)
        self.metrics.model.labels(self.target.name, model).set(1)
        why = chooser.selection.reason if chooser and chooser.selection else (chooser.error if chooser else "config")
        log.info("target %s: forecaster %s → %s (%s)", self.target.name, self.model, model, why)
        self.model = model

    def _export_forecast(self, i: int) -> None:
        self._export_model()
        name = self.target.name
        surprise = getattr(self.policy, "surprise", None)
        if surprise is not None and math.isfinite(surprise):
            self.metrics.surprise.labels(name).set(surprise)
        self.metrics.panic.labels(name).set(1 if getattr(getattr(self.policy, "burst", None), "panic", False) else 0)
        forecast = getattr(self.policy, "forecast", None)
        if forecast is None or forecast.fit is None:
            return
        for horizon in (self.target.pod_startup_s, self.target.pod_startup_s + self.pool.node_startup_s):
            for q in sorted({MEDIAN, self.target.forecast.quantile}):
                value = forecast.value_at(i + math.ceil(horizon / self.step), q)
                if value is not None:
                    self.metrics.forecast.labels(name, f"{horizon:g}", f"{q:g}").set(value)
        median = forecast.value_at(i + self._pod_steps, MEDIAN)
        if median is not None:
            self._pending[i + self._pod_steps] = median

    def _score_forecast(self, step: int, actual: float) -> None:
        predicted = self._pending.pop(step, None)
        for old in [k for k in self._pending if k < step]:  # made for steps that never got a sample
            del self._pending[old]
        if predicted is None or actual <= 0:
            return
        self._errors.append(abs(predicted - actual) / actual * 100)
        self.metrics.ape.labels(self.target.name).set(sum(self._errors) / len(self._errors))
