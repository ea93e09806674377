"""The forecast guardrail: scores computed right on hand-built series, and switching with hysteresis (falls back
after a bad spell, does not flap, comes back after the hold)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from forecastscale.config import Config, GuardrailSettings
from forecastscale.policy.base import PolicyHistory
from forecastscale.policy.guardrail import Guardrail, GuardState, Pending, Score, pinball, status
from forecastscale.policy.predictive import PredictivePolicy
from forecastscale.policy.shadows import Shadows
from forecastscale.types import Observation, Source

STEP = 60.0


def _obs(y: list[float] | np.ndarray, t: float | None = None, offset: int = 0) -> Observation:
    history = np.asarray(y, dtype=float)
    return Observation(t=(offset + len(history)) * STEP if t is None else t, step_s=STEP, demand_history=history,
                       current_replicas=1, ready_replicas=1, history_offset=offset)


def _guard(**settings: float) -> Guardrail:
    g = GuardrailSettings(enabled=True, **settings)  # type: ignore[arg-type]
    return Guardrail(g, 0.9, Shadows(season=4, window=12, quantile=0.9), pod_steps=1, step_s=STEP)


# --- scores ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("actual", "upper", "quantile", "loss"), [
    (12.0, 10.0, 0.9, 1.8),   # under-forecast by 2: τ × 2
    (8.0, 10.0, 0.9, 0.2),    # over-forecast by 2: (1 − τ) × 2
    (10.0, 10.0, 0.9, 0.0),
    (12.0, 10.0, 0.5, 1.0),   # the median's loss is half the absolute error
], ids=["under", "over", "exact", "median"])
def test_pinball_loss(actual: float, upper: float, quantile: float, loss: float) -> None:
    assert pinball(actual, upper, quantile) == pytest.approx(loss)


@pytest.mark.parametrize(("steps", "pinball_avg", "coverage", "n"), [
    # (actual, upper) per step at τ 0.9 with weight ¼: the mean of the first four, then moved a quarter of the way
    ([(12.0, 10.0)], 1.8, 0.0, 1),
    ([(12.0, 10.0), (8.0, 10.0)], 1.0, 0.5, 2),                              # mean of 1.8 and 0.2; of 0 and 1
    ([(12.0, 10.0), (8.0, 10.0), (10.0, 10.0), (10.0, 10.0)], 0.5, 0.75, 4),  # mean of 1.8, 0.2, 0, 0
    ([(12.0, 10.0), (8.0, 10.0), (10.0, 10.0), (10.0, 10.0), (14.0, 10.0)], 1.275, 0.5625, 5),  # 0.5 + ¼(3.6 − 0.5)
], ids=["first", "mean-of-two", "mean-of-four", "then-exponential"])
def test_rolling_scores_are_exponential_averages(steps: list[tuple[float, float]], pinball_avg: float,
                                                 coverage: float, n: int) -> None:
    score = Score()
    for actual, upper in steps:
        score = score.scored(actual, upper, 0.9, weight=0.25)
    assert score.pinball == pytest.approx(pinball_avg) and score.coverage == pytest.approx(coverage) and score.n == n


@pytest.mark.parametrize(("name", "points", "lag", "band"), [
    # y = 0, 1, …, 15 (a ramp): persistence one step ahead spans lag 2, every error is +2; seasonal naive
    # (season 4) forecasts y[n − 4 + h]: every error at lag 4 is +4
    ("persistence", [15.0, 15.0], 2, 2.0),
    ("seasonal_naive", [12.0, 13.0], 4, 4.0),
], ids=["persistence", "seasonal_naive"])
def test_shadow_forecasts_on_a_ramp(name: str, points: list[float], lag: int, band: float) -> None:
    shadows, y = Shadows(season=4, window=12, quantile=0.9), np.arange(16.0)
    got = shadows.points(name, y, 1)
    assert got is not None and list(got) == points
    assert shadows.lag(name, 1) == lag
    assert shadows.band(y, lag) == pytest.approx(band)
    assert shadows.upper_at(name, y, 1) == pytest.approx(points[-1] + band)
    assert shadows.window_max(name, y, 1) == pytest.approx(max(points) + band)


def test_shadow_band_is_the_empirical_quantile_of_the_last_errors() -> None:
    # lag-2 errors of 0, 0, 10, 0, 0, 10, … over the window of 12: the 0.9 quantile interpolates between 0 and 10
    y = np.tile([0.0, 0.0, 5.0], 8)
    errors = y[2:] - y[:-2]
    expected = float(np.quantile(errors[-12:], 0.9))
    assert Shadows(season=3, window=12, quantile=0.9).band(y, 2) == pytest.approx(expected)
    assert Shadows(season=3, window=12, quantile=0.9).band(y[:11], 2) is None  # fewer than 10 errors


def test_step_scores_the_forecast_made_one_pod_lead_ago_against_what_arrived() -> None:
    # pod lead = 1 step: at history length n the forecasts are for step n + 1, scored once step n + 1 is in.
    guard, y = _guard(window_s=120), [10.0] * 20
    state, _ = guard.step(_obs(y), None, model_upper=9.0)
    assert state.pending[-1].step == 21 and state.pending[-1].upper["model"] == 10.0  # floored at the last demand
    state, _ = guard.step(_obs([*y, 10.0]), state, model_upper=14.0)
    assert "model" not in state.scores  # step 21 not in yet
    state, _ = guard.step(_obs([*y, 10.0, 16.0]), state, model_upper=14.0)
    model = state.scores["model"]  # forecast 10 (14 was for step 23), 16 arrived: missed by 6
    assert (model.coverage, model.n) == (0.0, 1) and model.pinball == pytest.approx(0.9 * 6)
    assert [p.step for p in state.pending] == [22, 23]


def test_a_sliding_window_scores_alike_and_drops_forecasts_for_steps_it_no_longer_holds() -> None:
    guard = _guard()
    state = GuardState(pending=(Pending(3, {"model": 5.0}), Pending(40, {"model": 5.0}), Pending(41, {"model": 5.0})))
    after, _ = guard.step(_obs([7.0] * 11, offset=30), state, None)  # steps 30…40 held: 3 is gone, 40 is scored
    assert after.scores["model"].n == 1 and after.scores["model"].pinball == pytest.approx(0.9 * 2)
    assert [p.step for p in after.pending] == [41, 42]


# --- switching ------------------------------------------------------------------------------------
GOOD, BAD = Score(1.0, 0.9, 100), Score(3.0, 0.9, 100)  # BAD: 3× the loss, beyond the margin (1: twice)
SHADOW = Score(1.0, 0.9, 100)


@pytest.mark.parametrize(("state", "model", "t", "active", "why"), [
    (GuardState(), BAD, 0.0, "persistence", "model → persistence: pinball 3 > (1 + 1) × persistence 1"),
    (GuardState(), Score(1.9, 0.9, 100), 0.0, "model", None),  # worse, but within the margin
    (GuardState(), Score(1.0, 0.6, 100), 0.0, "reactive", "model → reactive: coverage 60%"),  # no shadow beats it
    (GuardState(), Score(3.0, 0.9, 29), 0.0, "model", None),   # too few scored steps to judge
    (GuardState("persistence", 0.0), GOOD, 100.0, "persistence", None),  # good, but the hold has just begun
    (GuardState("persistence", 0.0, 100.0), GOOD, 100.0 + 21599, "persistence", None),
    (GuardState("persistence", 0.0, 100.0), GOOD, 100.0 + 21600, "model", "persistence → model: good for 21600 s"),
], ids=["falls-back", "within-margin", "under-covers", "too-few-samples", "hold-starts", "hold-not-over",
        "hold-over"])
def test_switching_with_hysteresis(state: GuardState, model: Score, t: float, active: str, why: str | None) -> None:
    scores = {"model": model, "persistence": SHADOW, "seasonal_naive": Score(2.0, 0.9, 100)}
    after, switch = _guard()._switch(GuardState(state.active, state.since_s, state.good_since_s, scores), t)
    assert after.active == active
    assert (switch is None) if why is None else (switch is not None and switch.startswith(why))


def test_a_bad_spell_resets_the_hold() -> None:
    guard, scores = _guard(), {"model": GOOD, "persistence": SHADOW}
    s, _ = guard._switch(GuardState("persistence", 0.0, None, scores), 1000.0)
    assert s.good_since_s == 1000.0
    s, _ = guard._switch(GuardState("persistence", 0.0, s.good_since_s, {**scores, "model": BAD}), 2000.0)
    assert s.good_since_s is None and s.active == "persistence"
    s, switch = guard._switch(GuardState("persistence", 0.0, None, scores), 1000.0 + 21600)
    assert switch is None and s.active == "persistence"  # the hold counts again from the bad spell's end


def _run(guard: Guardrail, y: np.ndarray, model: np.ndarray) -> list[tuple[int, str]]:
    """Step ``guard`` along ``y`` with the model forecasting ``model[i]`` for step i + 1; the switches."""
    state, switches = None, []
    for n in range(20, len(y)):
        state, why = guard.step(_obs(y[:n]), state, float(model[n + 1]) if n + 1 < len(model) else None)
        if why:
            switches.append((n, why))
    return switches


def test_falls_back_after_a_bad_spell_does_not_flap_and_comes_back_after_the_hold() -> None:
    # Demand uniform in 9…11, shifted up by 20 from step 300 to step 700. The model forecasts 10.8 throughout (the
    # true q0.9 at first, hopeless during the shift); the shadows follow the shift within their lag.
    y = 10.0 + np.random.default_rng(3).uniform(-1, 1, 1400)
    y[300:700] += 20.0
    guard = _guard(window_s=1800, hold_s=3600, min_samples=10)
    switches = _run(guard, y, np.full(1400, 10.8))
    (away, why_away), *moves, (back, why_back) = switches
    assert 300 < away < 320 and why_away.startswith("model → ")  # within minutes of the shift
    # at most one move between stand-ins (reactive while every shadow also missed the jump, then persistence),
    # and nothing on the noise before the shift or after the return: no flapping
    assert len(moves) <= 1 and all("model" not in why for _, why in moves), switches
    assert back >= 700 + 3600 / STEP and "→ model: good for 3600 s" in why_back


# --- in the policy --------------------------------------------------------------------------------
def test_the_decision_names_the_stand_in_and_carries_the_scores(make_config: Callable[..., Config]) -> None:
    # seasonal-naive model (daily), demand 4 ± 1 for three days then 20 ± 2: the model keeps forecasting ~4, which
    # the HPA floor (last demand) overrides — persistence's band of its own errors covers the noise it does not.
    cfg = make_config(target={"workload": {"capacity_per_replica": 1.0}, "scaling": {"target_utilisation": 0.5},
                              "forecast": {"model": "seasonal_naive", "step_s": 60, "quantile": 0.9},
                              "guardrail": {"enabled": True, "window_s": 600, "min_samples": 5, "hold_s": 3600}},
                      pool={"gpus_per_node": 4, "node_startup_s": 420, "max_nodes": 64})
    policy = PredictivePolicy(cfg.targets[0], cfg.node_pools[0], 60.0, 60.0)
    noise = np.random.default_rng(5).uniform(-1, 1, 3 * 1440 + 90)
    y = np.r_[4.0 + noise[:3 * 1440], 20.0 + 2 * noise[3 * 1440:]]
    history, decision = PolicyHistory(), None
    for n in range(3 * 1440 - 30, len(y)):
        obs = Observation(t=n * STEP, step_s=STEP, demand_history=y[:n], current_replicas=40, ready_replicas=40)
        decision, history = policy.decide(obs, history)
    assert decision is not None and decision.guardrail is not None
    assert decision.guardrail.active == "persistence" and decision.guardrail.fallen_back
    assert decision.source is Source.SHADOW and decision.reason.startswith("shadow")
    assert "max(shadow" in decision.message and "persistence q0.9" in decision.message
    assert set(decision.guardrail.pinball) == {"model", "persistence", "seasonal_naive"}
    assert history.guardrail is not None and history.guardrail.active == "persistence"
    assert status(history.guardrail, None).pinball == decision.guardrail.pinball
