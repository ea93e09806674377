"""Rolling-origin scores, the automatic choice, and when it is re-made."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Self

import numpy as np
import pytest

from forecastscale.errors import NotEnoughHistory
from forecastscale.forecasters import Forecaster, HoltWinters, SeasonalNaive
from forecastscale.forecasters.base import with_residual_quantiles
from forecastscale.forecasters.evaluate import aggregate, origins_for, pinball_loss, score_origin
from forecastscale.forecasters.select import Chooser, Selection, select
from forecastscale.types import FloatArray, Forecast

SEASON = 24


class Constant:
    """Always forecasts ``level`` (a model that is right only on flat series)."""

    alias = "constant"

    def __init__(self, level: float) -> None:
        self.level = level

    def fit(self, y: FloatArray) -> Self:
        return self

    def predict(self, h: int, quantiles: Sequence[float] = ()) -> Forecast:
        return with_residual_quantiles(np.full(h, self.level), np.zeros(1), quantiles)


def noisy_seasonal(n: int = 12 * SEASON, noise: float = 6.0, seed: int = 3) -> FloatArray:
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    return 50 + 20 * np.sin(2 * np.pi * k / SEASON) + rng.normal(0, noise, n)


@pytest.mark.parametrize(("actual", "predicted", "q", "loss"), [
    (10.0, 8.0, 0.9, 1.8), (10.0, 12.0, 0.9, 0.2), (10.0, 10.0, 0.5, 0.0),
], ids=["under-q90", "over-q90", "exact"])
def test_pinball_loss_by_hand(actual: float, predicted: float, q: float, loss: float) -> None:
    assert pinball_loss(np.array([actual]), np.array([predicted]), q) == pytest.approx(loss)


def test_origins_leave_training_and_horizon() -> None:
    points = origins_for(100, horizon=5, count=4, min_train=40)
    assert points[0] >= 40 and points[-1] <= 95 and len(points) == 4
    assert origins_for(100, horizon=5, count=4, min_train=40, span=10) == [85, 88, 92, 95]
    assert origins_for(30, horizon=5, count=4, min_train=40) == []


def test_seasonal_naive_on_an_exact_repeat_scores_zero_error() -> None:
    y = np.tile(np.arange(SEASON, dtype=float), 6)
    s = aggregate([score_origin(lambda: SeasonalNaive(SEASON), y, o, 6, 0.9, SEASON)
                   for o in origins_for(len(y), 6, 5, 2 * SEASON)])
    assert (s.mae, s.coverage, s.origins) == (0.0, 1.0, 5)


def amplitude_series(phi: float, seed: int, days: int = 28) -> FloatArray:
    """A daily cycle whose amplitude is an AR(1) from day to day (``phi`` = 1: a random walk)."""
    rng = np.random.default_rng(seed)
    amp = np.zeros(days)
    for i in range(1, days):
        amp[i] = phi * amp[i - 1] + rng.normal(0, 4.0 if phi == 1 else 6.0)
    k = np.arange(days * SEASON)
    return 60 + (20 + amp[k // SEASON]) * np.sin(2 * np.pi * k / SEASON) + rng.normal(0, 1.0, len(k))


FIRST = ("seasonal_naive", "holt_winters", "constant")
CONSTANT_FIRST = ("constant", "seasonal_naive", "holt_winters")


@pytest.mark.parametrize(("series", "order", "winner"), [
    (noisy_seasonal(), FIRST, "holt_winters"),  # copying last season copies its noise; HW averages it out
    (np.full(12 * SEASON, 7.0), CONSTANT_FIRST, "constant"),  # flat: all three exact, the tie goes to the first
    (np.full(12 * SEASON, 7.0), FIRST, "seasonal_naive"),
], ids=["noisy-seasonal-favours-hw", "flat-tie-goes-to-first-listed", "flat-tie-goes-to-first-listed-2"])
def test_selection_picks_the_model_the_series_favours(series: FloatArray, order: tuple[str, ...],
                                                      winner: str) -> None:
    every: dict[str, partial[Forecaster]] = {
        "seasonal_naive": partial(SeasonalNaive, SEASON), "holt_winters": partial(HoltWinters, SEASON),
        "constant": partial(Constant, 7.0),
    }
    factories = {a: every[a] for a in order}
    chosen = select(factories, series, horizon=6, quantile=0.9, season=SEASON, origins=6, span=4 * SEASON)
    assert chosen.choice == winner
    assert chosen.reason.startswith("lowest pinball loss at q0.9 over 6 steps, 6 origins: " + winner)
    assert all(s.origins == 6 for s in chosen.scores.values())


def test_selection_without_enough_history_says_so() -> None:
    with pytest.raises(NotEnoughHistory, match="no rolling origin"):
        select({"seasonal_naive": partial(SeasonalNaive, SEASON)}, np.ones(SEASON), horizon=6, quantile=0.9,
               season=SEASON)


def _chooser(every: int) -> Chooser:
    builds = {"seasonal_naive": partial(SeasonalNaive, SEASON), "holt_winters": partial(HoltWinters, SEASON)}
    return Chooser(tuple(builds), lambda a: builds[a](), horizon=6, quantile=0.9, season=SEASON, window=None,
                   origins=4, span=2 * SEASON, every=every)


def test_chooser_reselects_only_every_interval_and_falls_back_while_short() -> None:
    chooser = _chooser(every=100)
    assert chooser.alias_for(np.ones(SEASON), 0) == "seasonal_naive" and chooser.error is not None
    y = noisy_seasonal()
    assert chooser.alias_for(y, 50) == "seasonal_naive"  # 50 steps since the last try: not yet
    assert chooser.alias_for(y, 100) == "holt_winters" and chooser.error is None
    first = chooser.selection
    assert chooser.alias_for(y, 150) == "holt_winters" and chooser.selection is first  # no new selection


def test_a_seeded_choice_holds_a_full_interval_from_its_first_use() -> None:
    chooser = _chooser(every=100)
    chooser.seed(Selection("seasonal_naive", {}, "trained"))
    y = noisy_seasonal()
    assert chooser.alias_for(y, 1000) == "seasonal_naive"
    assert chooser.alias_for(y, 1099) == "seasonal_naive"
    assert chooser.alias_for(y, 1100) == "holt_winters"


def weekly(n_weeks: int = 6, seed: int = 1) -> FloatArray:
    """A daily cycle with quiet weekends: yesterday is a poor guess on Mondays and Saturdays."""
    rng = np.random.default_rng(seed)
    k = np.arange(n_weeks * 7 * SEASON)
    weekend = (k // SEASON) % 7 >= 5
    return 50 + 20 * np.sin(2 * np.pi * k / SEASON) - 25 * weekend + rng.normal(0, 1, len(k))


def ar_noise(n_days: int = 42, seed: int = 1) -> FloatArray:
    """A daily cycle plus slowly wandering AR(1) noise: the recent level matters at short horizons."""
    rng = np.random.default_rng(seed)
    e = np.zeros(n_days * SEASON)
    for i in range(1, len(e)):
        e[i] = 0.95 * e[i - 1] + rng.normal(0, 2)
    return 50 + 10 * np.sin(2 * np.pi * np.arange(len(e)) / SEASON) + e


def chaotic(n_days: int = 20) -> FloatArray:
    """The logistic map: each value a deterministic, non-linear function of the last one."""
    x = np.empty(n_days * SEASON)
    x[0] = 0.3
    for i in range(1, len(x)):
        x[i] = 3.9 * x[i - 1] * (1 - x[i - 1])
    return 100 * x


@pytest.mark.parametrize(("series", "extra", "horizon", "span", "winner"), [
    (weekly(), "mstl", 6, 14 * SEASON, "mstl"),
    (ar_noise(), "sarimax", 3, 4 * SEASON, "sarimax"),
    (chaotic(), "gbm", 1, 4 * SEASON, "gbm"),
], ids=["weekly-favours-mstl", "ar-noise-favours-sarimax", "non-linear-favours-gbm"])
def test_selection_picks_the_structural_model_its_series_favours(series: FloatArray, extra: str, horizon: int,
                                                                 span: int, winner: str) -> None:
    from forecastscale.forecasters.gbm import QuantileGbm
    from forecastscale.forecasters.mstl import Mstl
    from forecastscale.forecasters.sarimax import Sarimax

    factories: dict[str, partial[Forecaster]] = {
        "seasonal_naive": partial(SeasonalNaive, SEASON), "holt_winters": partial(HoltWinters, SEASON),
        "mstl": partial(Mstl, [SEASON, 7 * SEASON]), "sarimax": partial(Sarimax, SEASON),
        "gbm": partial(QuantileGbm, SEASON, horizon=2)}
    chosen = select({a: f for a, f in factories.items() if a in ("seasonal_naive", "holt_winters", extra)}, series,
                    horizon=horizon, quantile=0.9, season=SEASON, origins=12, span=span)
    assert chosen.choice == winner, chosen.reason


@pytest.mark.parametrize("seed", [1, 4, 5], ids=["seed-1", "seed-4", "seed-5"])
def test_selection_picks_seasonal_naive_when_yesterday_is_the_best_guess(seed: int) -> None:
    """Amplitude a random walk from day to day: smoothing over past days only lags behind it."""
    factories: dict[str, Callable[[], Forecaster]] = {
        "seasonal_naive": partial(SeasonalNaive, SEASON), "holt_winters": partial(HoltWinters, SEASON)}
    chosen = select(factories, amplitude_series(1.0, seed), horizon=6, quantile=0.9, season=SEASON, origins=12,
                    span=7 * SEASON)
    assert chosen.choice == "seasonal_naive", chosen.reason
    assert chosen.scores["seasonal_naive"].pinball < 0.95 * chosen.scores["holt_winters"].pinball


@pytest.mark.parametrize("seed", [2, 4], ids=["seed-2", "seed-4"])
def test_selection_picks_the_ensemble_when_members_err_in_opposite_directions(seed: int) -> None:
    """Amplitude half-persistent from day to day: yesterday overshoots, the smoothed season undershoots."""
    from forecastscale.forecasters.ensemble import Ensemble

    factories: dict[str, Callable[[], Forecaster]] = {
        "seasonal_naive": partial(SeasonalNaive, SEASON), "holt_winters": partial(HoltWinters, SEASON),
        "ensemble": lambda: Ensemble([SeasonalNaive(SEASON), HoltWinters(SEASON)], combine="weighted")}
    chosen = select(factories, amplitude_series(0.5, seed), horizon=6, quantile=0.9, season=SEASON, origins=12,
                    span=7 * SEASON)
    assert chosen.choice == "ensemble", chosen.reason
    assert chosen.scores["ensemble"].pinball < 0.95 * min(chosen.scores[a].pinball for a in ("seasonal_naive",
                                                                                            "holt_winters"))


def test_short_horizons_get_enough_origins_for_the_band_shift() -> None:
    chosen = select({"holt_winters": partial(HoltWinters, SEASON)}, noisy_seasonal(), horizon=1, quantile=0.9,
                    season=SEASON, origins=6, span=4 * SEASON)
    assert chosen.scores["holt_winters"].origins == 24  # 6 origins × 1 step would rank a q0.9 among 6 errors
    assert "24 origins" in chosen.reason


def test_the_shift_calibrates_the_winner_on_its_own_origins() -> None:
    chosen = select({"holt_winters": partial(HoltWinters, SEASON)}, noisy_seasonal(noise=8.0), horizon=6,
                    quantile=0.9, season=SEASON, origins=12, span=6 * SEASON)
    assert chosen.reason.endswith(f"(coverage there {chosen.scores['holt_winters'].coverage:.0%})")
    assert chosen.shift != 0.0


def test_calibration_shift_makes_coverage_the_quantile_on_those_origins() -> None:
    from forecastscale.forecasters.evaluate import OriginScore, calibration_shift

    scores = [OriginScore(o, 1.0, 1.0, 0.0, 0.0, tuple(float(x) for x in range(o, o + 10))) for o in (0, 10)]
    shift = calibration_shift(scores, 0.9)
    assert shift == 18.0  # errors 0..19: the ceil(21 · 0.9) = 19th smallest (finite-sample conformal rank)
    assert np.mean([s.shifted(shift, 0.9).coverage for s in scores]) == pytest.approx(0.95)
    few = [OriginScore(0, 1.0, 1.0, 0.0, 0.0, (1.0, 5.0, 3.0))]
    assert calibration_shift(few, 0.9) == 5.0  # too few errors for the rank: the largest
    assert calibration_shift([None], 0.9) == 0.0


def test_calibrate_moves_one_path_and_keeps_the_order() -> None:
    from forecastscale.forecasters.select import calibrate

    paths = {0.5: np.array([10.0, 10.0]), 0.9: np.array([12.0, 12.0]), 0.99: np.array([13.0, 20.0])}
    up = calibrate(paths, 0.9, 3.0)
    assert list(up[0.9]) == [15.0, 15.0] and list(up[0.99]) == [15.0, 20.0] and list(up[0.5]) == [10.0, 10.0]
    down = calibrate(paths, 0.9, -5.0)
    assert list(down[0.9]) == [7.0, 7.0] and list(down[0.5]) == [7.0, 7.0]


@pytest.mark.parametrize(("y", "expected"), [
    ([10.0, 11.0, 9.0, 10.0, 500.0], [10.0, 11.0, 9.0, 10.0, 10.0 + 3 * 1.4826]),
    ([10.0, 11.0, 9.0, 10.0, 0.0], [10.0, 11.0, 9.0, 10.0, 0.0]),
    ([5.0, 5.0, 5.0, 90.0], [5.0, 5.0, 5.0, 90.0]),
], ids=["spike-clipped", "drop-kept", "zero-mad-unchanged"])
def test_clip_outliers_is_one_sided_and_robust(y: list[float], expected: list[float]) -> None:
    from forecastscale.forecasters.base import clip_outliers

    assert clip_outliers(np.array(y), 3.0) == pytest.approx(np.array(expected))
