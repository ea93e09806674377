"""``tune``: the cheapest knob setting that meets an SLO, chosen on the past, checked on the future.

The scored span (after warm-up) is split in time: the grid is swept on the earlier part only
(the replay stops at the split, so nothing after it can leak in), and the chosen setting is
then replayed over the whole trace and scored on the later part. Both are reported, so a
setting that only fits the past shows.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from forecastscale.backtest.runner import Scenario
from forecastscale.backtest.scores import Scores
from forecastscale.backtest.sweep import SLO_METRICS, Params, Point, knobs, run_point, sweep
from forecastscale.errors import ConfigError, PermanentError

_SLO = re.compile(r"^\s*([a-z0-9_]+)\s*<=\s*([0-9]*\.?[0-9]+)\s*$")


@dataclass(frozen=True)
class Slo:
    """``metric <= limit``."""

    metric: str
    limit: float

    def met(self, scores: Scores) -> bool:
        """Whether ``scores`` meet this SLO."""
        return float(getattr(scores, self.metric)) <= self.limit

    def __str__(self) -> str:
        return f"{self.metric}<={self.limit:g}"


def parse_slo(text: str) -> Slo:
    """``"underprovisioned_pct<=0.5"`` → :class:`Slo`; anything else is a clear error."""
    match = _SLO.match(text)
    if match is None or match.group(1) not in SLO_METRICS:
        raise ConfigError("--slo", [f"expected METRIC<=NUMBER with METRIC one of {', '.join(SLO_METRICS)}, "
                                    f"got {text!r}"])
    return Slo(match.group(1), float(match.group(2)))


class NoSettingMeetsSlo(PermanentError):
    """No point of the grid met the SLO on the tuning part."""


@dataclass(frozen=True)
class TuneResult:
    """The chosen knobs, their scores on both parts, and the whole tuning sweep."""

    policy: str
    params: Params
    tune_scores: Scores
    report_scores: Scores
    split_step: int
    points: list[Point]


def split(sc: Scenario, fraction: float) -> tuple[Scenario, Scenario]:
    """(tuning part, report part): the first ``fraction`` of the scored steps, and the rest.

    The tuning scenario's demand ends at the split; the report scenario replays everything
    (policies see only the past anyway) and scores from the split on.
    """
    if not 0 < fraction < 1:
        raise ConfigError("--split", [f"must be between 0 and 1, got {fraction:g}"])
    n, w = len(sc.demand), sc.warmup_steps
    at = w + int(fraction * (n - w))
    if at <= w or at >= n:
        raise ConfigError("--split", [f"{fraction:g} leaves an empty part of {n - w} scored steps"])
    return replace(sc, demand=sc.demand[:at].copy()), replace(sc, warmup_steps=at)


def tune(sc: Scenario, policy: str, slo: Slo, fraction: float = 0.7, jobs: int | None = None,
         on_done: Callable[[Point], None] | None = None, grid: list[Params] | None = None) -> TuneResult:
    """Sweep ``policy`` on the tuning part, pick the cheapest point meeting ``slo``, report it."""
    tune_sc, report_sc = split(sc, fraction)
    points = sweep(tune_sc, [policy], jobs, on_done, {policy: grid} if grid else None)
    meeting = [p for p in points if slo.met(p.scores)]
    if not meeting:
        best = min(points, key=lambda p: p.metric(slo.metric))
        raise NoSettingMeetsSlo(
            f"no {policy} setting meets {slo} on the tuning part; best is {slo.metric}="
            f"{best.metric(slo.metric):.3f} with {best.params} ({best.scores.gpu_hours:,.1f} GPU-hours)"
        )
    chosen = min(meeting, key=lambda p: p.scores.gpu_hours)
    report = run_point(report_sc, policy, chosen.params)
    return TuneResult(policy, chosen.params, chosen.scores, report.scores, tune_sc.demand.size, points)


def tuned_config(raw: dict[str, Any], target_name: str, params: Params, policy: str = "predictive") -> dict[str, Any]:
    """A copy of the raw YAML mapping with ``policy``'s tuned ``params`` written into target ``target_name`` (each
    policy's own knobs: tuning predictive leaves the reactive ``scaling.target_utilisation`` as it was)."""
    out = copy.deepcopy(raw)
    for target in out.get("targets", []):
        if target.get("name") == target_name:
            for key, value in params.items():
                section, field = knobs(policy)[key]
                target.setdefault(section, {})[field] = value
            return out
    raise ConfigError("tune", [f"no target named {target_name!r} in the config"])
