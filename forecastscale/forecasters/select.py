"""``model: auto``: pick, per target, the forecaster with the lowest pinball loss on its own history.

A rolling-origin backtest (:mod:`forecastscale.forecasters.evaluate`) over the recent
history scores every candidate at the target's lead-time horizon and provisioning quantile; the
lowest mean pinball loss wins. The choice is re-made on a schedule by the caller (the forecast
tape), never per fit, because it costs ``origins × candidates`` fits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np

from forecastscale.errors import NotEnoughHistory
from forecastscale.forecasters.base import Forecaster
from forecastscale.forecasters.evaluate import Scores, aggregate, calibration_shift, origins_for, score_origin
from forecastscale.types import FloatArray


@dataclass(frozen=True)
class Selection:
    """The chosen alias, every candidate's scores, a one-line reason with the numbers, and the
    calibration ``shift`` (demand units) the winner's quantile path needs to cover as asked."""

    choice: str
    scores: dict[str, Scores]
    reason: str
    shift: float = 0.0


def calibrate(paths: Mapping[float, FloatArray], quantile: float, shift: float) -> dict[float, FloatArray]:
    """Raise the ``quantile`` path by ``shift`` (clipped at 0); the others only stay ordered around it."""
    if quantile not in paths:
        return dict(paths)
    out = dict(paths)
    out[quantile] = np.maximum(paths[quantile] + shift, 0.0)
    for other, path in paths.items():
        if other != quantile:
            out[other] = np.maximum(path, out[quantile]) if other > quantile else np.minimum(path, out[quantile])
    return out


# The band shift is an empirical quantile of the winner's errors: a q0.9 rank needs a couple of
# dozen of them, or it is just the largest of a handful (one bad day sets the next day's band).
MIN_ERRORS = 24
# Scores this close are a tie (an exact repeat fits Holt-Winters and seasonal-naive to ~1e-15).
TIE = 1e-9


def select(factories: Mapping[str, Callable[[], Forecaster]], y: FloatArray, *, horizon: int, quantile: float,
           season: int, window: int | None = None, origins: int = 6, span: int | None = None,
           min_errors: int = MIN_ERRORS) -> Selection:
    """Score every candidate on rolling origins in the last ``span`` steps of ``y``.

    ``origins`` origins, or more when ``origins × horizon`` would give fewer than ``min_errors``
    scored steps (short lead times: one step per origin). The lowest mean pinball loss wins;
    a tie goes to the candidate listed first (list the cheapest first, as the defaults do).
    Raises :class:`NotEnoughHistory` if no candidate can be scored (the caller falls back to
    its default model, or to reactive-only).
    """
    count = max(origins, math.ceil(min_errors / horizon))
    points = origins_for(len(y), horizon, count, min_train=2 * season, span=span)
    if not points:
        raise NotEnoughHistory(f"auto: {len(y)} steps leave no rolling origin (need {2 * season + horizon})")
    each = {a: [score_origin(f, y, o, horizon, quantile, season, window) for o in points]
            for a, f in factories.items()}
    scores = {a: aggregate(s) for a, s in each.items()}
    usable = {a: s for a, s in scores.items() if s.origins > 0 and math.isfinite(s.pinball)}
    if not usable:
        raise NotEnoughHistory(f"auto: no candidate of {sorted(factories)} could be fitted at {len(points)} origins")
    order = {a: i for i, a in enumerate(factories)}
    best = min(s.pinball for s in usable.values())
    tied = {a for a, s in usable.items() if s.pinball <= best + TIE * max(1.0, abs(best))}
    ranked = sorted(usable, key=lambda a: (a not in tied, 0.0 if a in tied else usable[a].pinball, order[a]))
    shift = calibration_shift(each[ranked[0]], quantile)
    shown = ", ".join(f"{a} {usable[a].pinball:.4g}" for a in ranked)
    reason = (f"lowest pinball loss at q{quantile:g} over {horizon} steps, {len(points)} origins: {shown}; "
              f"q{quantile:g} band shifted {shift:+.4g} (coverage there {usable[ranked[0]].coverage:.0%})")
    return Selection(ranked[0], scores, reason, shift)


class Chooser:
    """Keeps the ``auto`` choice between selections, re-selecting every ``every`` calls' worth of steps.

    ``build(alias)`` makes a fresh candidate; ``alias_for(y, step)`` returns the model to fit on
    ``y`` at (any monotone) ``step``. Until a selection succeeds, ``fallback`` is used and
    :attr:`error` says why (too little history for rolling origins, typically).
    """

    def __init__(self, candidates: tuple[str, ...], build: Callable[[str], Forecaster], *, horizon: int,
                 quantile: float, season: int, window: int | None, origins: int, span: int | None,
                 every: int, fallback: str = "seasonal_naive") -> None:
        self.candidates, self.build, self.every, self.fallback = candidates, build, every, fallback
        self.horizon, self.quantile, self.season = horizon, quantile, season
        self.window, self.origins, self.span = window, origins, span
        self.selection: Selection | None = None
        self.error: str | None = None
        self._at: int | None = None
        self._seeded = False

    def seed(self, selection: Selection) -> None:
        """Start from a choice made elsewhere (a trained artifact): the next selection waits ``every`` steps."""
        self.selection, self._seeded = selection, True

    def alias_for_now(self) -> str:
        """The alias in use (the last choice, or the fallback before any)."""
        return self.selection.choice if self.selection is not None else self.fallback

    def alias_for(self, y: FloatArray, step: int) -> str:
        """The chosen alias at ``step``: re-selected when ``every`` steps have passed since the last try."""
        if self._seeded:  # the seeded choice holds for a full interval from its first use
            self._seeded, self._at = False, step
        if self._at is None or step - self._at >= self.every:
            self._at = step
            factories = {a: partial(self.build, a) for a in self.candidates}
            try:
                self.selection = select(factories, y, horizon=self.horizon, quantile=self.quantile,
                                        season=self.season, window=self.window, origins=self.origins, span=self.span)
                self.error = None
            except NotEnoughHistory as exc:
                self.error = str(exc)
        return self.alias_for_now()
