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
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from forecastscale.actuators.base import Actuator, ApplyResult, Fence, ScaleState
from forecastscale.config import Config, NodePool, QueryKind, Target
from forecastscale.forecasters.select import Selection
from forecastscale.policy.base import Policy, PolicyHistory
from forecastscale.policy.events import windows_at
from forecastscale.policy.fleet import TargetInput
from forecastscale.policy.predictive import PredictivePolicy
from forecastscale.policy.reactive import ReactivePolicy
from forecastscale.policy.tape import MEDIAN, make_tape
from forecastscale.service.history import DemandHistory, problem_counts
from forecastscale.service.metrics import ServiceMetrics
from forecastscale.sources.prometheus import PrometheusSource
from forecastscale.types import Decision, FloatArray, GuardrailStatus, Observation, SloStatus, Window

log = logging.getLogger("forecastscale.service")
# The side queries and the range a reading must be in: requests waiting, and percentages (a 0–1 fraction such as
# vLLM's KV-cache usage must be multiplied by 100 in the query; above 100 is a misconfigured query, not a reading).
SIDE_BOUNDS: dict[QueryKind, tuple[float, float]] = {
    "queue": (0.0, math.inf), "gpu_utilisation": (0.0, 100.0), "kv_cache": (0.0, 100.0)}


@dataclass(frozen=True)
class Sampled:
    """What Prometheus said this tick: the newest demand step (None if unusable) and why not."""

    demand: float | None
    problem: str | None


def make_policy(name: str, target: Target, pool: NodePool, step_s: float, refit_phase_s: float = 0.0) -> Policy:
    """The live policy: the backtest's class, fitting on the clock's grid and keeping few fits.

    ``refit_phase_s`` brings the first refit forward (see :class:`RollingForecast`).
    """
    if name == "reactive":
        return ReactivePolicy(target)
    tape = make_tape(target, pool, step_s, step_s, quantiles=(MEDIAN,), keep=2)
    return PredictivePolicy(target, pool, step_s, step_s, tape, refit_phase_s)


class TargetRunner:
    """The per-target state of the live loop: history window, policy, the history it decides on (owned here and
    persisted with the plan), consecutive ticks without data, and the forecasts awaiting their actuals."""

    def __init__(self, config: Config, target: Target, source: PrometheusSource, actuator: Actuator,
                 metrics: ServiceMetrics, refit_phase_s: float = 0.0) -> None:
        self.target, self.pool = target, config.pool_for(target)
        self.step = config.service.tick_s
        self.source, self.actuator, self.metrics = source, actuator, metrics
        demand = config.query(target, "demand")
        if demand is None:
            raise ValueError(f"target {target.name!r}: no queries.demand and no service.queries.demand")
        self.demand_query = demand
        self.side_queries = {kind: config.query(target, kind) for kind in SIDE_BOUNDS}
        self.policy = make_policy(config.service.policy, target, self.pool, self.step, refit_phase_s)
        self.history = PolicyHistory()  # the caller owns it (as the HPA controller): recommendations, events
        # The fit window plus one fit bucket, so a fit never lacks its oldest bucket.
        self.samples = DemandHistory(math.ceil((target.forecast.history_s() + target.forecast.step_s) / self.step))
        self.missing_ticks = 0  # consecutive ticks without a usable demand sample
        self.last: Decision | None = None
        self.lead = config.leads(target)
        self._pod_steps = self.lead.steps(self.lead.pod_s, self.step)
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
        if len(self.samples) == 0:
            self._load(newest - self.samples.window + 1, newest)
        elif newest >= self.samples.end + 1:
            self._load(self.samples.end, newest)
        elif newest == self.samples.end:
            value = self.source.instant(self.demand_query, self._at(newest))
            self._store(newest, np.array([math.nan if value is None else value * self.target.workload.demand_scale]))
        demand = self.samples.last_usable() if self.samples.end == newest + 1 else None
        problem = None if demand is not None else self._problem_at(newest)
        if demand is not None:
            self.metrics.demand.labels(self.target.name).set(demand)
            self._score_forecast(newest, demand)
        return Sampled(demand, problem)

    def _at(self, step: int) -> datetime:
        return datetime.fromtimestamp((step + 1) * self.step, tz=UTC)  # step k ends at (k+1)·step_s

    def _load(self, first: int, last: int) -> None:
        values = self.source.grid(self.demand_query, self._at(first), self._at(last), self.step)
        self._store(first, values * self.target.workload.demand_scale)

    def _store(self, first: int, values: FloatArray) -> None:
        """Put ``values`` in the history; unusable ones become NaN and are counted by reason."""
        for reason, n in problem_counts(values).items():
            self.metrics.dropped.labels(self.target.name, reason).inc(n)
        clean: FloatArray = np.where(np.isfinite(values) & (values >= 0), values, math.nan)
        self.samples.put(first, clean)

    def _problem_at(self, step: int) -> str:
        return "no sample for the last completed step" if self.samples.end <= step else "unusable sample"

    def side_metrics(self, now: float) -> dict[str, float]:
        """Queue depth, GPU utilisation and KV cache in use now, where configured: exported, logged, and given to
        the policy's ``queue``/``gpu_utilisation``/``kv_cache`` metric rules. A value outside its bounds
        (:data:`SIDE_BOUNDS`) is dropped and counted (``{kind}_out_of_range``): the rule then counts as
        unavailable, which blocks a scale-down rather than deciding on a misread scale."""
        out: dict[str, float] = {}
        at = datetime.fromtimestamp(math.floor(now / self.step) * self.step, tz=UTC)
        gauges = {"queue": self.metrics.queue, "gpu_utilisation": self.metrics.gpu, "kv_cache": self.metrics.kv_cache}
        for kind, (lo, hi) in SIDE_BOUNDS.items():
            query = self.side_queries[kind]
            value = None if query is None else self.source.instant(query, at)
            if value is None or not math.isfinite(value):
                continue
            if not lo <= value <= hi:
                self.metrics.dropped.labels(self.target.name, f"{kind}_out_of_range").inc()
                continue
            gauges[kind].labels(self.target.name).set(value)
            out[kind] = value
        return out

    # --- decision ---------------------------------------------------------------------------------
    def observation(self, now: float, scale: ScaleState, events: tuple[Window, ...] = (),
                    side: Mapping[str, float] | None = None, ready: int | None = None) -> Observation:
        """What the policy may know now: history to the last completed step, the workload as read, and its
        ``ready`` pods as Prometheus says (None: unknown)."""
        created = min(scale.status_replicas, scale.spec_replicas)
        # Without a ready count the scale subresource cannot say which pods are Ready: the pods that exist count
        # as ready (not measured), and pods the controller has not created yet as pending. With one, every pod not
        # Ready is starting: whether a pod waits for a node is not known here (its wait is in its pod lead).
        now_ready = created if ready is None else min(ready, scale.spec_replicas)
        pending = max(0, scale.spec_replicas - created) if ready is None else 0
        offset, history = self.samples.filled()
        return Observation(
            t=now, step_s=self.step, demand_history=history,
            current_replicas=scale.spec_replicas, ready_replicas=now_ready,
            starting_replicas=scale.spec_replicas - now_ready - pending, pending_replicas=pending,
            history_offset=offset, wall_s=now, ready_measured=ready is not None,
            queue=(side or {}).get("queue"), gpu_utilisation=(side or {}).get("gpu_utilisation"),
            kv_cache=(side or {}).get("kv_cache"), events=events,
        )

    def input(self, now: float, scale: ScaleState, sampled: Sampled, events: tuple[Window, ...] = (),
              side: Mapping[str, float] | None = None, ready: int | None = None) -> TargetInput:
        """This tick's input to the fleet decision; counts the ticks in a row without a usable sample."""
        self.missing_ticks = 0 if sampled.demand is not None else self.missing_ticks + 1
        return TargetInput(self.observation(now, scale, events, side, ready), self.history, self.missing_ticks,
                           sampled.problem or "")

    def settle(self, now: float, decision: Decision, history: PolicyHistory, change: int) -> None:
        """Keep ``history`` (this tick's recommendation) plus the scale event ``change`` (replicas) if a write made
        one — as the HPA, which records an event only after a successful update — and export the decision."""
        self.history, self.last = history.scaled(now, change), decision
        self._export(math.floor(now / self.step), decision)

    def apply(self, replicas: int, fence: Fence | None = None) -> ApplyResult:
        """Patch the workload (the actuator writes only if ``spec.replicas`` differs; ``fence()`` right before)."""
        return self.actuator.apply(replicas, fence)

    def export_events(self, now: float, announced: tuple[Window, ...]) -> None:
        """How many event windows are in force now: the announced ones given, and the cron schedules'."""
        self.metrics.events_active.labels(self.target.name).set(len(windows_at(self.target, announced, now)))

    # --- forecast bookkeeping ---------------------------------------------------------------------
    def seed_model(self, selection: Selection) -> bool:
        """Start ``auto`` from a trained choice; False if this target does not select (not auto)."""
        chooser = self.policy.forecast.tape.chooser if isinstance(self.policy, PredictivePolicy) else None
        if chooser is None:
            return False
        chooser.seed(selection)
        return True

    def _export(self, i: int, d: Decision) -> None:
        """The decision's forecasts, surprise, panic and model; the median forecast at the pod lead is kept to
        score against what arrives."""
        name = self.target.name
        self._export_model(d.model)
        if d.surprise is not None and math.isfinite(d.surprise):
            self.metrics.surprise.labels(name).set(d.surprise)
        self.metrics.panic.labels(name).set(1 if d.panic else 0)
        if d.slo is not None:
            self._export_slo(d.slo)
        if d.guardrail is not None:
            self._export_guardrail(d.guardrail)
        for o in d.outlook:
            self.metrics.forecast.labels(name, f"{o.horizon_s:g}", f"{o.quantile:g}").set(o.demand)
            if o.horizon_s == self.lead.pod_s and o.quantile == MEDIAN:
                self._pending[i + self._pod_steps] = o.demand

    def _export_guardrail(self, g: GuardrailStatus) -> None:
        """1 while a stand-in provisions, each forecaster's scores; a switch is logged with its reason and counted."""
        name = self.target.name
        self.metrics.guardrail.labels(name).set(1 if g.fallen_back else 0)
        for model, loss in g.pinball.items():
            self.metrics.pinball.labels(name, model).set(loss)
        for model, share in g.coverage.items():
            self.metrics.coverage.labels(name, model).set(share)
        if g.switch is not None:
            self.metrics.guardrail_switches.labels(name).inc()
            log.warning("target %s: forecast guardrail %s", name, g.switch)

    def _export_slo(self, slo: SloStatus) -> None:
        name = self.target.name
        self.metrics.slo_margin.labels(name).set(slo.margin)
        self.metrics.slo_level.labels(name).set(slo.level)
        self.metrics.slo_allowed.labels(name).set(slo.aim)
        if slo.measured is not None:
            self.metrics.slo_miss.labels(name).set(slo.measured)

    def _export_model(self, model: str | None) -> None:
        if model is None or model == self.model:
            return
        if self.model is not None:
            self.metrics.model.labels(self.target.name, self.model).set(0)
        self.metrics.model.labels(self.target.name, model).set(1)
        chooser = self.policy.forecast.tape.chooser if isinstance(self.policy, PredictivePolicy) else None
        why = chooser.selection.reason if chooser and chooser.selection else (chooser.error if chooser else "config")
        log.info("target %s: forecaster %s → %s (%s)", self.target.name, self.model, model, why)
        self.model = model

    def _score_forecast(self, step: int, actual: float) -> None:
        predicted = self._pending.pop(step, None)
        for old in [k for k in self._pending if k < step]:  # made for steps that never got a sample
            del self._pending[old]
        if predicted is None or actual <= 0:
            return
        self._errors.append(abs(predicted - actual) / actual * 100)
        self.metrics.ape.labels(self.target.name).set(sum(self._errors) / len(self._errors))
