"""``forecastscale train``: choose and score each target's model on its history, save an artifact.

The choice is the one the live service would make — the same forecast tape settings (fit step,
season(s), window, lead time) and the same rolling-origin selection — so the saved artifact lets
the service start with it instead of selecting again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

from forecastscale.backtest.runner import resample
from forecastscale.config import Config, Target
from forecastscale.forecasters import Forecaster
from forecastscale.forecasters.select import select
from forecastscale.forecasters.store import Artifact, save, scores_dict, selection_settings
from forecastscale.policy.tape import make_tape
from forecastscale.sources.csvtrace import Trace


def train_target(config: Config, target: Target, trace: Trace, source: str) -> Artifact:
    """Score the configured model (or every ``auto`` candidate) on ``trace``; the best one is the artifact's."""
    fs = target.forecast
    tape = make_tape(target, config.pool_for(target), trace.step_s, trace.step_s)
    step = tape.b * trace.step_s
    y = resample(trace, step, target.workload.demand_scale)
    candidates = fs.candidates if fs.model == "auto" else (fs.model,)
    factories: dict[str, Callable[[], Forecaster]] = {str(a): partial(tape.build, a) for a in candidates}
    chosen = select(factories, y, horizon=tape.lead, quantile=fs.quantile, season=tape.season, window=tape.window,
                    origins=fs.selection_origins, span=2 * tape.season)
    end = trace.start + timedelta(seconds=len(y) * step)
    data = {"source": source, "start": trace.start.isoformat(), "end": end.isoformat(), "steps": len(y),
            "step_s": step}
    lead_s = config.leads(target).total_s  # what make_tape looks ahead
    return Artifact(target.name, chosen.choice, chosen.reason, scores_dict(chosen.scores), data,
                    selection_settings(fs, lead_s), chosen.shift)


def train(config: Config, targets: list[Target], traces: list[Trace], source: str, out: Path) -> list[Path]:
    """Train every target on its trace and save the artifacts under ``out``."""
    return [save(train_target(config, t, tr, source), out) for t, tr in zip(targets, traces, strict=True)]
