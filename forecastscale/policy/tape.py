"""Forecasts over the lead time, fitted on schedule and shared: the tape and the rolling forecast (pure).

* :class:`ForecastTape` — fits by history length, a memo shared by every policy that fits the same way
  (a fit depends only on the demand history and the fit settings, never on a policy's actions);
* :class:`RollingForecast` — one policy's view: refit on schedule, the highest forecast over a look-ahead
  at its quantile or at an SLO's calibrated margin above the median;
* :func:`make_tape` — the tape a predictive policy for a target fits with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from forecastscale.config import ForecastSettings, NodePool, Target, leads
from forecastscale.errors import NotEnoughHistory
from forecastscale.forecasters import Forecaster, make_forecaster
from forecastscale.forecasters.base import clip_outliers, correct_level_shift
from forecastscale.forecasters.select import Chooser, calibrate
from forecastscale.types import FloatArray

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
                 lookahead_s: float, quantiles: tuple[float, ...] = (), keep: int | None = None,
                 reach_s: float | None = None) -> None:
        fit_step = max(settings.step_s, data_step_s)
        self.b = max(1, round(fit_step / decision_step_s))
        bucket_s = self.b * decision_step_s
        # The key: the fit settings (the quantile and the utilisation do not change a fit).
        self.settings = settings.model_copy(update={"quantile": 0.5, "target_utilisation": None})
        self.season = max(2, round(settings.season_s / bucket_s))
        self.window = max(1, round(settings.window_s / bucket_s))
        # Paths reach reach_s (a learned lead may grow up to it) past the last refit, lookahead_s by default.
        reach = max(lookahead_s, reach_s or 0.0)
        self.horizon = math.ceil((settings.refit_interval_s + reach) / bucket_s) + 2
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

    def window_max(self, history: FloatArray, i: int, ahead_steps: int, offset: int = 0,
                   margin: float | None = None) -> float | None:
        """Highest forecast demand over absolute decision steps ``[i, i + ahead_steps]``; None if unfit.

        The configured quantile's path, or with ``margin`` ``median + margin × (quantile − median)``
        (band widths above the median: an SLO's calibrated margin)."""
        if self._due(i):
            fit = self.tape.fit_at(history, i, offset)
            if isinstance(fit, str):
                self.error, self.fit = fit, None
                return None
            first, self._phase = self._phase, 0
            self.fit, self._fit_i, self.error = fit, i - first, None
        assert self.fit is not None
        lo, hi = self._index(i), self._index(i + ahead_steps)
        path = self.fit.paths[self.quantile][lo: hi + 1]
        if margin is not None:
            median = self.fit.paths[MEDIAN][lo: hi + 1]
            path = median + margin * (path - median)
        return float(np.max(path))

    def band_max(self, i: int, ahead_steps: int, quantile: float) -> float | None:
        """Highest ``quantile`` forecast over absolute steps ``[i, i + ahead_steps]`` of the fit
        :meth:`window_max` last made (call that first); None where unfit or that quantile is not on the tape."""
        if self.fit is None or quantile not in self.fit.paths:
            return None
        return float(np.max(self.fit.paths[quantile][self._index(i): self._index(i + ahead_steps) + 1]))

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
    # The median too with an SLO (its margin is counted from it) or scale to zero (it says whether demand is likely).
    needs_median = target.slo is not None or target.scaling.min_replicas == 0
    quantiles = (*quantiles, MEDIAN) if needs_median else quantiles
    return ForecastTape(target.forecast, data_step_s, decision_step_s, lookahead, quantiles, keep,
                        reach_s=reach_s(target, lookahead))


def reach_s(target: Target, lookahead_s: float) -> float:
    """How far past a fit ``target`` may look (seconds): its lead times, × ``workload.lead.ceiling`` where it
    learns them (a learned lead is capped there)."""
    lead = target.workload.lead
    return lookahead_s * lead.ceiling if lead.learn else lookahead_s
