"""``predictive``: provision for the forecast demand over the lead time, reactive HPA as floor.

Replicas cover the upper-quantile forecast over ``[t, t + pod_startup_s]`` (pods requested
now are ready at the end of that span, and scale-down is immediate, so the count must hold
for the whole span). Pods are planned over ``[t, t + node_startup_s + pod_startup_s]``
(``pods_ahead``): the fleet packs them into node pools, so nodes asked for now hold them when Ready.
The combination rule is ``max(reactive, forecast)`` and the winner is named in the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from forecastscale.config import Behavior, ForecastSettings, NodePool, ScalingPolicy, ScalingRules, Target, leads
from forecastscale.errors import NotEnoughHistory
from forecastscale.forecasters import Forecaster, make_forecaster
from forecastscale.forecasters.base import clip_outliers, correct_level_shift
from forecastscale.forecasters.select import Chooser, calibrate
from forecastscale.policy import behavior, rules
from forecastscale.policy.base import PolicyHistory
from forecastscale.policy.burst import BurstState, Sample, burst
from forecastscale.policy.events import event_floor, with_events
from forecastscale.types import Decision, FloatArray, Observation, Outlook, Source

MEDIAN = 0.5


@dataclass(frozen=True)
class Fit:
    """One refit's output: quantile paths (one value per bucket) starting at ``first_bucket``."""

    first_bucket: int
    paths: dict[float, FloatArray]


class ForecastTape:
    """Forecasts by history length: a memo shared by every policy that fits the same way.

    A fit depends only on the demand history and the fit settings, never on a policy's own
    actions, so policy variants (target utilisation, quantile) replaying one trace can share
    one tape instead of refitting. Holds the quantiles asked for at construction.
    """

    def __init__(self, settings: ForecastSettings, data_step_s: float, decision_step_s: float,
                 lookahead_s: float, quantiles: tuple[float, ...] = (), keep: int | None = None) -> None:
        fit_step = max(settings.step_s, data_step_s)
        self.b = max(1, round(fit_step / decision_step_s))
        bucket_s = self.b * decision_step_s
        self.settings = settings.model_copy(update={"quantile": 0.5})  # the key: all but quantile
        self.season = max(2, round(settings.season_s / bucket_s))
        self.window = max(1, round(settings.window_s / bucket_s))
        self.horizon = math.ceil((settings.refit_interval_s + lookahead_s) / bucket_s) + 2
        self.quantiles = tuple(sorted({*quantiles, settings.quantile}))
        self.keep = keep  # fits remembered: all (a backtest shares them), or the last few (live)
        self._fits: dict[int, Fit | str] = {}
        extra = round(settings.extra_season_s / bucket_s) if settings.extra_season_s else 0
        self.seasons = (extra,) if extra > self.season else ()
        self.lead = max(1, math.ceil(lookahead_s / bucket_s))  # buckets until capacity asked now is ready
        self.chooser = Chooser(
            settings.candidates, self.build, horizon=self.lead, quantile=settings.quantile, season=self.season,
            window=self.window, origins=settings.selection_origins, span=2 * self.season,
            every=max(1, round(settings.selection_interval_s / bucket_s)),
        ) if settings.model == "auto" else None

    def build(self, alias: str) -> Forecaster:
        """A fresh forecaster ``alias`` with this tape's season(s), transform and horizon (in fit buckets)."""
        s = self.settings
        return make_forecaster(alias, self.season, s.damped_trend, s.transform, seasons=self.seasons,
                               horizon=self.horizon)

    def compatible(self, other: ForecastTape) -> bool:
        """Same fits: same settings (quantile aside), buckets and horizon."""
        return (self.settings, self.b, self.horizon) == (other.settings, other.b, other.horizon)

    def fit_at(self, history: FloatArray, i: int, offset: int = 0) -> Fit | str:
        """The fit on the complete buckets before absolute step ``i``, or why there is none.

        ``history[0]`` is absolute step ``offset``; buckets are aligned to absolute steps.
        """
        if i not in self._fits:
            self._fits[i] = self._fit(history, i, offset)
            if self.keep is not None and len(self._fits) > self.keep:
                del self._fits[next(iter(self._fits))]  # the oldest: dicts keep insertion order
        return self._fits[i]

    def _fit(self, history: FloatArray, i: int, offset: int) -> Fit | str:
        end = i // self.b
        # auto scores its candidates on origins within the span before the window's start too,
        # each fitted on a whole window, as the real fit will be (not on a shortened one).
        span = (self.chooser.span or 0) if self.chooser is not None else 0
        y = self._buckets(history, end, self.window + span, offset)
        alias = self.settings.model if self.chooser is None else self.chooser.alias_for(y, end)
        model = self.build(alias)
        try:
            forecast = model.fit(y[-self.window:]).predict(self.horizon, self.quantiles)
        except NotEnoughHistory as exc:
            return str(exc)
        return Fit(end, self._calibrated(alias, forecast.quantiles))

    def _buckets(self, history: FloatArray, end: int, count: int, offset: int) -> FloatArray:
        """Up to ``count`` complete fit buckets before bucket ``end``: mean demand, outliers clipped and a
        level shift corrected if the settings ask."""
        start = max(-(-offset // self.b), end - count)  # first bucket wholly in the history
        lo, hi = start * self.b - offset, max(start, end) * self.b - offset
        y: FloatArray = history[lo:hi].reshape(-1, self.b).mean(axis=1)
        if self.settings.clip_outliers is not None:
            y = clip_outliers(y, self.settings.clip_outliers)
        if self.settings.level_shift is not None:
            y, _ = correct_level_shift(y, self.season, self.settings.level_shift)
        return y

    def _calibrated(self, alias: str, paths: dict[float, FloatArray]) -> dict[float, FloatArray]:
        """``auto``: raise the chosen model's selection-quantile path by its conformal shift.

        The other quantiles are only kept in order around it (they were not calibrated).
        """
        if self.chooser is None or self.chooser.selection is None or self.chooser.selection.choice != alias:
            return paths
        return calibrate(paths, self.chooser.quantile, self.chooser.selection.shift)


class RollingForecast:
    """A forecaster refit on schedule over history averaged into buckets of the fit step.

    Bucket ``j`` is decision steps ``[j·b, (j+1)·b)``. A fit at history length ``i`` uses the
    complete buckets before ``i`` (at most ``window_s`` of them) and forecasts from bucket
    ``i // b`` on, far enough ahead to serve every decision until the next refit. While
    history is too short, every step tries again.
    """

    def __init__(self, tape: ForecastTape, quantile: float, decision_step_s: float, phase_s: float = 0.0) -> None:
        if quantile not in tape.quantiles:
            raise ValueError(f"quantile {quantile} not on the tape {tape.quantiles}")
        self.tape, self.quantile, self.dt = tape, quantile, decision_step_s
        # The first refit comes phase_s early: a live loop spreads its targets' refits over the
        # interval instead of refitting all of them in one tick.
        self._phase = round(phase_s / decision_step_s)
        self.fit: Fit | None = None
        self._fit_i = -1
        self.error: str | None = None

    def _due(self, i: int) -> bool:
        return self.fit is None or (i - self._fit_i) * self.dt >= self.tape.settings.refit_interval_s

    def window_max(self, history: FloatArray, i: int, ahead_steps: int, offset: int = 0) -> float | None:
        """Highest forecast demand over absolute decision steps ``[i, i + ahead_steps]``; None if unfit."""
        if self._due(i):
            fit = self.tape.fit_at(history, i, offset)
            if isinstance(fit, str):
                self.error, self.fit = fit, None
                return None
            first, self._phase = self._phase, 0
            self.fit, self._fit_i, self.error = fit, i - first, None
        assert self.fit is not None
        path = self.fit.paths[self.quantile]
        lo, hi = self._index(i), self._index(i + ahead_steps)
        return float(np.max(path[lo: hi + 1]))

    def _index(self, step: int) -> int:
        """Index into the current fit's paths of absolute decision step ``step`` (clipped to the path)."""
        assert self.fit is not None
        last = len(self.fit.paths[self.quantile]) - 1
        return min(max(step // self.tape.b - self.fit.first_bucket, 0), last)

    def value_at(self, step: int, quantile: float) -> float | None:
        """The current fit's ``quantile`` forecast for absolute decision step ``step``; None if unfit."""
        if self.fit is None or quantile not in self.fit.paths:
            return None
        return float(self.fit.paths[quantile][self._index(step)])


def make_tape(target: Target, pool: NodePool, data_step_s: float, decision_step_s: float,
              quantiles: tuple[float, ...] = (), keep: int | None = None) -> ForecastTape:
    """The tape a predictive policy for ``target`` on ``pool`` fits with."""
    lookahead = leads(target, pool).total_s
    return ForecastTape(target.forecast, data_step_s, decision_step_s, lookahead, quantiles, keep)


def replicas_for(demand: float, target: Target) -> int:
    """Replicas that serve ``demand`` at the target utilisation."""
    per_replica = target.workload.capacity_per_replica * target.scaling.target_utilisation
    return max(0, math.ceil(demand / per_replica - 1e-9))


class PredictivePolicy:
    """Forecast need at an upper quantile, floored by the HPA, then behaviour and bounds; pods planned over the
    node lead (``pods_ahead``), which the fleet packs into node pools."""

    name = "predictive"
    plans_nodes = True

    def __init__(self, target: Target, pool: NodePool, data_step_s: float, decision_step_s: float,
                 tape: ForecastTape | None = None, refit_phase_s: float = 0.0) -> None:
        self.target, self.lead, self.step_s = target, leads(target, pool), decision_step_s
        self.pod_steps = self.lead.steps(self.lead.pod_s, decision_step_s)
        self.node_steps = self.lead.steps(self.lead.total_s, decision_step_s)
        own = make_tape(target, pool, data_step_s, decision_step_s)
        if tape is not None and not tape.compatible(own):
            raise ValueError("shared forecast tape was built with other fit settings")
        self.forecast = RollingForecast(tape or own, target.forecast.quantile, decision_step_s, refit_phase_s)
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
        rec = rules.recommend(obs, t)
        reactive = rec.replicas
        pod_demand = self.forecast.window_max(obs.demand_history, i, self.pod_steps, obs.history_offset)
        candidates = {"reactive": reactive}
        ahead: dict[float, float] = {}
        first = Source.RULE if t.scaling.metrics else Source.REACTIVE
        if pod_demand is None:
            source, wanted, node_replicas = first, reactive, reactive
            detail = f"forecast unavailable ({self.forecast.error}); reactive {reactive} ({rec.message})"
        else:
            node_demand = self.forecast.window_max(obs.demand_history, i, self.node_steps, obs.history_offset) or 0.0
            ahead = {self.lead.pod_s: pod_demand, self.lead.total_s: node_demand}
            forecast = replicas_for(pod_demand, t)
            candidates["forecast"] = forecast
            source = Source.FORECAST if forecast > reactive else first
            wanted = max(forecast, reactive)
            node_replicas = max(replicas_for(node_demand, t), wanted)
            detail = (f"max(forecast {forecast} [q{t.forecast.quantile:g} demand {pod_demand:.3g} over "
                      f"{self.lead.pod_s:g} s], reactive {reactive}) = {wanted}")
        panic, surprise, burst_state = self._burst(obs, i, history.burst)
        if panic is not None:
            candidates["burst"] = panic
            detail += f"; panic: demand {obs.demand_history[-1]:.3g} is {surprise:.2g}× the forecast's q" \
                      f"{t.forecast.quantile:g} → {panic}"
            if panic >= wanted:  # panic's own behaviour (up at once, never down) is what acts now
                source, wanted = Source.BURST, panic
        source, wanted, note = with_events(obs, t, source, wanted, candidates)
        # Nodes asked for now are Ready node_startup_s later: they must hold the floor in force then.
        node_replicas = max(node_replicas, wanted, event_floor(obs, t, wanted, self.lead.node_s)[0])
        rules_now = self._panic_behavior if panic is not None else t.scaling.behavior
        norm = behavior.normalize(
            wanted, obs.current_replicas, obs.t, history.behavior, rules_now, t.scaling.min_replicas,
            t.scaling.max_replicas,
        )
        ahead_pods = min(max(norm.replicas, node_replicas), t.scaling.max_replicas)
        decision = Decision(replicas=norm.replicas, source=source, limits=norm.limits,
                            message=f"{detail}{note} → {norm.replicas}; {ahead_pods} pods planned ahead",
                            candidates=candidates, forecast=ahead, pods_ahead=ahead_pods,
                            outlook=self._outlook(i), surprise=surprise, panic=panic is not None,
                            model=self.model())
        return decision, PolicyHistory(norm.history, burst_state)

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
