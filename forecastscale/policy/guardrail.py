"""The forecast guardrail (pure): live shadow scoring, and falling back from a model that does worse.

Each tick, :meth:`Guardrail.step`:

1. **Scores** the forecasts made one pod lead time ago for the last completed step — the model's at
   ``forecast.quantile`` τ and each shadow's upper quantile (:mod:`~forecastscale.policy.shadows`) — against
   the demand ``y`` that arrived: pinball loss ``τ·(y − q)`` when demand came above the forecast ``q``,
   ``(1 − τ)·(q − y)`` below (demand units/s: the proper score of a τ-quantile forecast), and coverage
   ``y ≤ q``. Both are exponential averages over ``guardrail.window_s`` (weight ``step_s / window_s``).
2. **Switches.** On the model, with ``min_samples`` scored steps, the target falls back when the model's loss
   exceeds the best shadow's × (1 + ``margin``) or its coverage drops below τ − ``coverage_slack``: to the
   shadow with the lowest loss if it beats the model, else to ``reactive`` (the last demand ×
   (1 + ``reactive_margin``)). Fallen back, it returns to the model once the model has been *good* — within
   the margin of the best shadow, and covering — for ``hold_s`` without a break; meanwhile it moves to
   another stand-in only if that one's loss is lower by the margin. A margin to leave and a hold to come
   back: one noisy step never flips it.
3. **Remembers** this tick's forecasts for one pod lead ahead, to be scored when that step arrives.

The state (:class:`GuardState`) is a handful of numbers — three exponential averages, two times, and the
forecasts waiting for their step (one per step of the pod lead) — kept in the caller's
:class:`~forecastscale.policy.base.PolicyHistory` and persisted in the plan, so a failover keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from forecastscale.config import GuardrailSettings
from forecastscale.policy.calibration import level
from forecastscale.policy.shadows import SHADOWS, Shadows
from forecastscale.types import FloatArray, GuardrailStatus, Observation

MODEL, REACTIVE = "model", "reactive"
FORECASTERS = (MODEL, *SHADOWS)  # what is scored
MODES = (*FORECASTERS, REACTIVE)  # what may provision
MAX_COUNT = 1_000_000  # scored steps are counted up to here (only min_samples matters)


def pinball(actual: float, upper: float, quantile: float) -> float:
    """The pinball (quantile) loss of the ``quantile`` forecast ``upper`` for ``actual`` (demand units/s)."""
    gap = actual - upper
    return quantile * gap if gap >= 0 else (quantile - 1.0) * gap


@dataclass(frozen=True)
class Score:
    """One forecaster's rolling scores: pinball loss (demand units/s), coverage (0–1), scored steps."""

    pinball: float = 0.0
    coverage: float = 1.0
    n: int = 0

    def scored(self, actual: float, upper: float, quantile: float, weight: float) -> Score:
        """After one more step: the plain mean of the steps so far until there are ``1 / weight`` of them (so the
        first few do not weigh as a whole window), then an exponential average moved by ``weight``."""
        loss, hit = pinball(actual, upper, quantile), 1.0 if actual <= upper else 0.0
        w = max(weight, 1.0 / (self.n + 1))
        return Score(self.pinball + w * (loss - self.pinball), self.coverage + w * (hit - self.coverage),
                     min(self.n + 1, MAX_COUNT))


@dataclass(frozen=True)
class Pending:
    """Forecasts made for absolute decision step ``step``: forecaster → its upper-quantile forecast."""

    step: int
    upper: Mapping[str, float]


@dataclass(frozen=True)
class GuardState:
    """What provisions (:data:`MODES`), when it last switched and since when the model has been good without a
    break (seconds; None: never / not now), the scores by forecaster, the forecasts awaiting their step."""

    active: str = MODEL
    since_s: float | None = None
    good_since_s: float | None = None
    scores: Mapping[str, Score] = field(default_factory=dict)
    pending: tuple[Pending, ...] = ()


class Guardrail:
    """One target's guardrail: its settings, quantile τ, shadows and pod lead (decision steps)."""

    def __init__(self, settings: GuardrailSettings, quantile: float, shadows: Shadows, pod_steps: int,
                 step_s: float) -> None:
        self.settings, self.quantile, self.shadows, self.pod_steps = settings, quantile, shadows, pod_steps
        self.weight = min(1.0, step_s / settings.window_s)

    def step(self, obs: Observation, state: GuardState | None,
             model_upper: float | None) -> tuple[GuardState, str | None]:
        """Score what arrived, switch if due (the switch's reason, else None), keep this tick's forecasts
        (``model_upper``: the model's τ forecast one pod lead ahead, None while unfit)."""
        scored = self._score(obs, state or GuardState())
        switched, why = self._switch(scored, obs.t)
        return replace(switched, pending=(*switched.pending, self._made(obs, model_upper))), why

    def _score(self, obs: Observation, state: GuardState) -> GuardState:
        """``state`` with every pending forecast whose step is in the history scored (and forgotten)."""
        y, offset, scores = obs.demand_history, obs.history_offset, dict(state.scores)
        end, keep = offset + len(y), []
        for p in state.pending:
            if p.step >= end:
                keep.append(p)
                continue
            if p.step < offset:  # fell out of the window (a long outage): nothing to score it against
                continue
            actual = float(y[p.step - offset])
            for name, upper in p.upper.items():
                scores[name] = scores.get(name, Score()).scored(actual, upper, self.quantile, self.weight)
        return replace(state, scores=scores, pending=tuple(keep))

    def _made(self, obs: Observation, model_upper: float | None) -> Pending:
        """This tick's forecasts for one pod lead ahead, each as the policy would provision from it: floored at
        the last demand, which the HPA floor serves anyway (see the module docstring)."""
        y = obs.demand_history
        if len(y) == 0:
            return Pending(obs.history_offset + self.pod_steps, {})
        upper = {name: self.shadows.upper_at(name, y, self.pod_steps) for name in SHADOWS}
        upper[MODEL] = model_upper
        last = float(y[-1])
        return Pending(obs.history_offset + len(y) + self.pod_steps,
                       {name: max(value, last) for name, value in upper.items() if value is not None})

    def _switch(self, s: GuardState, t: float) -> tuple[GuardState, str | None]:
        """The next state and the switch's reason (None: no switch); see the module docstring."""
        model, need = s.scores.get(MODEL), self.settings.min_samples
        if model is None or model.n < need:
            return s, None
        shadows = {n: sc for n, sc in s.scores.items() if n != MODEL and sc.n >= need}
        best = min(shadows, key=lambda n: shadows[n].pinball, default=None)
        bad = self._bad(model, best, shadows)
        stand_in = self._stand_in(model, shadows)
        if s.active == MODEL:
            return (s, None) if not bad else (self._to(s, stand_in, t), f"model → {stand_in}: {bad}")
        if bad:
            return self._move(replace(s, good_since_s=None), stand_in, shadows, t, bad)
        since = t if s.good_since_s is None else s.good_since_s
        if t - since < self.settings.hold_s:
            return replace(s, good_since_s=since), None
        return self._to(s, MODEL, t), (f"{s.active} → model: good for {t - since:g} s ("
                                        f"{self._summary(model, best, shadows)})")

    def _bad(self, model: Score, best: str | None, shadows: Mapping[str, Score]) -> str:
        """Why the model is not good now ("" if it is): it under-covers, or loses to the best shadow by the margin."""
        floor, margin = self.quantile - self.settings.coverage_slack, self.settings.margin
        if model.coverage < floor:
            return f"coverage {model.coverage:.0%} of q{self.quantile:g} < {floor:.0%}"
        if best is not None and model.pinball > (1 + margin) * shadows[best].pinball:
            return (f"pinball {model.pinball:.3g} > (1 + {margin:g}) × {best} {shadows[best].pinball:.3g} "
                    f"(demand units/s)")
        return ""

    def _stand_in(self, model: Score, shadows: Mapping[str, Score]) -> str:
        """What to fall back to: the shadow with the lowest loss among those that beat the model and cover (coverage
        ≥ τ − slack: a shadow that under-covers is no guard), else ``reactive``."""
        floor = self.quantile - self.settings.coverage_slack
        fit = {n: sc for n, sc in shadows.items() if sc.pinball < model.pinball and sc.coverage >= floor}
        return min(fit, key=lambda n: fit[n].pinball, default=REACTIVE)

    def _move(self, s: GuardState, to: str, shadows: Mapping[str, Score], t: float,
              bad: str) -> tuple[GuardState, str | None]:
        """Fallen back and the model still bad: move to ``to`` if it is a shadow better than the stand-in by the
        margin (or the stand-in is ``reactive``)."""
        if to == s.active or to == REACTIVE:
            return s, None
        now = shadows.get(s.active)
        if now is not None and shadows[to].pinball * (1 + self.settings.margin) >= now.pinball:
            return s, None
        return self._to(s, to, t), f"{s.active} → {to}: {bad}"

    @staticmethod
    def _to(s: GuardState, active: str, t: float) -> GuardState:
        return replace(s, active=active, since_s=t, good_since_s=None)

    def _summary(self, model: Score, best: str | None, shadows: Mapping[str, Score]) -> str:
        """The model's scores and the best shadow's, for a switch back."""
        against = f", {best} {shadows[best].pinball:.3g}" if best is not None else ""
        return f"pinball {model.pinball:.3g}{against}; coverage {model.coverage:.0%}"

    def stand_in(self, active: str, y: FloatArray, node_steps: int,
                 margin: float | None) -> tuple[float, float, str] | None:
        """Fallen back: the demand to provision for over the pod and the node lead (demand units/s) and what it
        comes from — the shadow in force, or the last demand × (1 + ``reactive_margin``) when that is ``reactive``
        or the shadow cannot forecast yet; None on the model or before any demand."""
        if active == MODEL or len(y) == 0:
            return None
        if active in SHADOWS:
            at = None if margin is None else level(margin, self.quantile)  # an SLO's margin, as a quantile level
            pod = self.shadows.window_max(active, y, self.pod_steps, at)
            node = self.shadows.window_max(active, y, node_steps, at)
            if pod is not None and node is not None:
                return pod, max(pod, node), f"{active} q{self.quantile:g}"
        rm = self.settings.reactive_margin
        last = float(y[-1]) * (1 + rm)
        return last, last, f"reactive: last demand × {1 + rm:g}"


def status(state: GuardState, switch: str | None) -> GuardrailStatus:
    """What a decision carries of the guardrail: what provisions, this tick's switch, the scores."""
    return GuardrailStatus(active=state.active, switch=switch,
                           pinball={n: s.pinball for n, s in state.scores.items() if s.n},
                           coverage={n: s.coverage for n, s in state.scores.items() if s.n})
