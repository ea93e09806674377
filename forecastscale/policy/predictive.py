"""``predictive``: provision for the forecast demand over the lead time, reactive HPA as floor.

Replicas cover the upper-quantile forecast over ``[t, t + pod_startup_s]`` (pods requested
now are ready at the end of that span, and scale-down is immediate, so the count must hold
for the whole span). Pods are planned over ``[t, t + node_startup_s + pod_startup_s]``
(``pods_ahead``): the fleet packs them into node pools, so nodes asked for now hold them when Ready.
The combination rule is ``max(reactive, forecast)`` and the winner is named in the reason. With
``guardrail.enabled`` a shadow stands in for a model it beats (``shadow``, :mod:`~forecastscale.policy.guardrail`);
with ``min_replicas: 0`` the target sleeps when idle and wakes on demand or ahead of it (:mod:`~.zero`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from forecastscale.config import Behavior, Leads, NodePool, ScalingPolicy, ScalingRules, Target, leads
from forecastscale.policy import guardrail, rules, zero
from forecastscale.policy.base import PolicyHistory
from forecastscale.policy.burst import BurstState, Sample, burst
from forecastscale.policy.calibration import Calibration, level, miss, ready_capacity, update
from forecastscale.policy.events import event_floor, with_events
from forecastscale.policy.guardrail import Guardrail, GuardState
from forecastscale.policy.shadows import Shadows
from forecastscale.policy.tape import MEDIAN, ForecastTape, RollingForecast, make_tape
from forecastscale.types import Decision, Observation, Outlook, SloStatus, Source


def replicas_for(demand: float, target: Target) -> int:
    """Replicas that serve ``demand`` at the target utilisation."""
    per_replica = target.workload.capacity_per_replica * target.scaling.target_utilisation
    return max(0, math.ceil(demand / per_replica - 1e-9))


def sized_at(target: Target, utilisation: float) -> Target:
    """``target`` with ``scaling.target_utilisation`` (0–1] set to ``utilisation``."""
    return target.model_copy(update={"scaling": target.scaling.model_copy(
        update={"target_utilisation": utilisation})})


def own_utilisation(target: Target) -> Target:
    """``target`` sized at the predictive policy's own ``forecast.target_utilisation`` where it is set (else the
    shared ``scaling.target_utilisation``): each policy's knob apart, so tuning one never moves the other."""
    own = target.forecast.target_utilisation
    return target if own is None else sized_at(target, own)


def at_full_utilisation(target: Target) -> Target:
    """``target`` sized at 100 %: with an SLO the calibrated margin is the safety, not a utilisation target (the
    HPA floor then serves what arrives now; explicit metric rules keep their own targets)."""
    return sized_at(target, 1.0)


@dataclass(frozen=True)
class _Need:
    """What the forecast side asks to provision for: the highest demand over the pod and the node lead (units/s;
    ``pod`` None: no forecast), where it comes from (``forecast`` or a guardrail's ``shadow``) and its band."""

    pod: float | None
    node: float
    source: Source
    label: str

    def ahead(self, lead: Leads) -> dict[float, float]:
        """By look-ahead (seconds): the demand provisioned for, where there is a forecast."""
        return {} if self.pod is None else {lead.pod_s: self.pod, lead.total_s: self.node}


def _guardrail(target: Target, step_s: float, pod_steps: int) -> Guardrail | None:
    """The target's forecast guardrail, with its shadows on the decision step; None unless enabled."""
    g, f = target.guardrail, target.forecast
    if not g.enabled:
        return None
    shadows = Shadows(season=max(1, round(f.season_s / step_s)), window=max(1, round(g.error_window_s / step_s)),
                      quantile=f.quantile)
    return Guardrail(g, f.quantile, shadows, pod_steps, step_s)


class PredictivePolicy:
    """Forecast need at an upper quantile, floored by the HPA, then behaviour and bounds; pods planned over the
    node lead (``pods_ahead``), which the fleet packs into node pools."""

    name = "predictive"
    plans_nodes = True

    def __init__(self, target: Target, pool: NodePool, data_step_s: float, decision_step_s: float,
                 tape: ForecastTape | None = None, refit_phase_s: float = 0.0) -> None:
        target = own_utilisation(target)
        self.target, self.lead, self.step_s = target, leads(target, pool), decision_step_s
        # The configured leads; a learned one arrives with each observation (planned_lead). The guardrail scores
        # its forecasters one configured pod lead ahead, a horizon that must not move under its rolling scores.
        self.pod_steps = self.lead.steps(self.lead.pod_s, decision_step_s)
        own = make_tape(target, pool, data_step_s, decision_step_s)
        if tape is not None and not tape.compatible(own):
            raise ValueError("shared forecast tape was built with other fit settings")
        self.forecast = RollingForecast(tape or own, target.forecast.quantile, decision_step_s, refit_phase_s)
        self.sizing = target if target.slo is None else at_full_utilisation(target)
        self.guardrail = _guardrail(target, decision_step_s, self.pod_steps)
        # Panic mode (Knative): up at once to what is observed, never down while it lasts.
        self._panic_behavior = Behavior(
            scale_up=ScalingRules(stabilization_window_seconds=0, policies=(
                ScalingPolicy(type="Pods", value=target.scaling.max_replicas, period_seconds=1),)),
            scale_down=ScalingRules(stabilization_window_seconds=0, select_policy="Disabled",
                                    policies=(ScalingPolicy(type="Pods", value=1, period_seconds=1),)))

    def _burst(self, obs: Observation, i: int, state: BurstState) -> tuple[int | None, float | None, BurstState]:
        """Replicas for the observed demand while in panic (None when calm), the surprise, the next state."""
        t = self.target
        upper = self.forecast.value_at(i - 1, t.forecast.quantile) if len(obs.demand_history) else None
        if upper is None:
            return None, None, state
        sample = Sample(obs.t, float(obs.demand_history[-1]), upper, obs.queue)
        result = burst([sample], t.scaling.burst, state, queue_drain_s=t.workload.max_wait_s or None)
        need = replicas_for(result.need, t) if result.panic and result.need is not None else None
        return need, result.surprise, result.state

    def decide(self, obs: Observation, history: PolicyHistory) -> tuple[Decision, PolicyHistory]:
        """Replicas for the pod lead time, pods planned for the node lead time."""
        t = self.target
        i = obs.history_offset + len(obs.demand_history)
        cal = self._calibrated(obs, history.calibration)
        rec = rules.recommend(obs, self.sizing)
        lead = self.planned_lead(obs)
        need, guard, switch = self._need(obs, i, cal.margin if cal is not None else None, history.guardrail, lead)
        candidates = {"reactive": rec.replicas}
        source, wanted, node_replicas, detail = self._combine(need, rec, candidates, lead)
        panic, surprise, burst_state = self._burst(obs, i, history.burst)
        if panic is not None:
            candidates["burst"] = panic
            detail += f"; panic: demand {obs.demand_history[-1]:.3g} is {surprise:.2g}× the forecast's q" \
                      f"{t.forecast.quantile:g} → {panic}"
            if panic >= wanted:  # panic's own behaviour (up at once, never down) is what acts now
                source, wanted = Source.BURST, panic
        source, wanted, note = with_events(obs, t, source, wanted, candidates)
        # Nodes asked for now are Ready node_startup_s later: they must hold the floor in force then.
        node_replicas = max(node_replicas, wanted, event_floor(obs, t, wanted, lead.node_s)[0])
        lowest = zero.floor(obs, t, need.pod)
        source, wanted, wake = zero.woken(obs, lowest, source, wanted)
        rules_now = self._panic_behavior if panic is not None else t.scaling.behavior
        norm = zero.settle(wanted, obs, history.behavior, rules_now, t, lowest)
        ahead_pods = min(max(norm.replicas, node_replicas), t.scaling.max_replicas)
        note += wake + (f"; guardrail {switch}" if switch else "")
        decision = Decision(replicas=norm.replicas, source=source, limits=norm.limits,
                            message=f"{detail}{note} → {norm.replicas}; {ahead_pods} pods planned ahead",
                            candidates=candidates, forecast=need.ahead(lead), pods_ahead=ahead_pods,
                            outlook=self._outlook(i), surprise=surprise, panic=panic is not None,
                            model=self.model(), slo=self._status(cal),
                            guardrail=None if guard is None else guardrail.status(guard, switch))
        return decision, PolicyHistory(norm.history, burst_state, cal, guard)

    def planned_lead(self, obs: Observation) -> Leads:
        """The leads planned over this tick: the learned ones the observation carries, else the config's."""
        pod = self.lead.pod_s if obs.pod_lead_s is None else obs.pod_lead_s
        return Leads(pod_s=pod, node_s=self.lead.node_s if obs.node_lead_s is None else obs.node_lead_s)

    def _need(self, obs: Observation, i: int, margin: float | None, state: GuardState | None,
              lead: Leads) -> tuple[_Need, GuardState | None, str | None]:
        """The demand to provision for over ``lead``: the model's forecast (at ``margin`` with an SLO), or with a
        guardrail fallen back its stand-in's; the guardrail's next state and this tick's switch."""
        y, offset, q = obs.demand_history, obs.history_offset, self.target.forecast.quantile
        pod_steps, node_steps = lead.steps(lead.pod_s, self.step_s), lead.steps(lead.total_s, self.step_s)
        pod = self.forecast.window_max(y, i, pod_steps, offset, margin)
        node = 0.0 if pod is None else self.forecast.window_max(y, i, node_steps, offset, margin) or 0.0
        need = self._quieted(_Need(pod, node, Source.FORECAST, f"margin {margin:.2f}" if margin is not None
                                   else f"q{q:g}"), i, pod_steps, node_steps)
        if self.guardrail is None:
            return need, None, None
        guard, switch = self.guardrail.step(obs, state, self.forecast.value_at(i + self.pod_steps, q))
        stand = self.guardrail.stand_in(guard.active, y, node_steps, margin)
        return (need if stand is None else _Need(*stand[:2], Source.SHADOW, stand[2])), guard, switch

    def _quieted(self, need: _Need, i: int, pod_steps: int, node_steps: int) -> _Need:
        """A sleeper's need with no demand over a lead where its median forecast is quiet (:func:`zero.quiet`)."""
        if need.pod is None or not zero.may_sleep(self.target):
            return need
        pod_quiet = zero.quiet(self.forecast.band_max(i, pod_steps, MEDIAN), self.target)
        node_quiet = zero.quiet(self.forecast.band_max(i, node_steps, MEDIAN), self.target)
        return replace(need, pod=0.0 if pod_quiet else need.pod, node=0.0 if node_quiet else need.node)

    def _combine(self, need: _Need, rec: rules.RuleResult, candidates: dict[str, int],
                 lead: Leads) -> tuple[Source, int, int, str]:
        """``max(forecast, reactive)``: the winner, the replicas, the pods for the node lead and the message;
        reactive alone without a forecast. A sleeper's quiet forecast asks for none (:func:`zero.need`)."""
        t, reactive = self.target, rec.replicas
        first = Source.RULE if t.scaling.metrics else Source.REACTIVE
        if need.pod is None:
            return first, reactive, reactive, f"forecast unavailable ({self.forecast.error}); reactive {reactive} " \
                                              f"({rec.message})"
        forecast = replicas_for(zero.need(need.pod, t) or 0.0, self.sizing)
        candidates[need.source.value] = forecast
        wanted = max(forecast, reactive)
        node_replicas = max(replicas_for(zero.need(need.node, t) or 0.0, self.sizing), wanted)
        detail = (f"max({need.source.value} {forecast} [{need.label} demand {need.pod:.3g} over "
                  f"{lead.pod_s:g} s], reactive {reactive}) = {wanted}")
        return (need.source if forecast > reactive else first), wanted, node_replicas, detail

    def _calibrated(self, obs: Observation, cal: Calibration | None) -> Calibration | None:
        """With an SLO: the margin after the last completed step's miss or hit (None without an SLO)."""
        slo = self.target.slo
        if slo is None:
            return None
        cal = cal or Calibration()
        now = ready_capacity(obs, self.target)
        err = miss(obs, self.target, slo, cal.capacity)
        return replace(cal, capacity=now) if err is None else update(cal, err, slo, obs.step_s, now)

    def _status(self, cal: Calibration | None) -> SloStatus | None:
        slo = self.target.slo
        if cal is None or slo is None:
            return None
        return SloStatus(margin=cal.margin, level=level(cal.margin, self.target.forecast.quantile),
                         measured=cal.measured, aim=slo.miss_rate())

    def _outlook(self, i: int) -> tuple[Outlook, ...]:
        """The current fit's forecast at the pod and node leads, median and configured quantile (where fit)."""
        out = []
        for horizon in (self.lead.pod_s, self.lead.total_s):
            for q in sorted({MEDIAN, self.target.forecast.quantile}):
                value = self.forecast.value_at(i + self.lead.steps(horizon, self.step_s), q)
                if value is not None:
                    out.append(Outlook(horizon_s=horizon, quantile=q, demand=value))
        return tuple(out)

    def model(self) -> str:
        """The forecaster in use: the configured one, or ``auto``'s current choice."""
        tape = self.forecast.tape
        return tape.settings.model if tape.chooser is None else tape.chooser.alias_for_now()
