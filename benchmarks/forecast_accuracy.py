"""Forecast accuracy on real traces: every model against seasonal-naive, and ``auto``'s choice.

For each trace (the bundled configs' traces, plus any ``--trace CSV``) at a 5-min fit step (the
trace's own step if coarser): rolling origins every ``--every`` over the last ``--days`` days, each
model fitted on the ``--window`` before the origin and scored at horizons 5, 15 and 30 min
(steps rounded up): MASE (MAE over the training window's in-sample seasonal-naive MAE), pinball
loss of the 0.9 quantile and its empirical coverage. ``auto`` is scored as the service runs it:
at the start of each day the rolling-origin selection (:mod:`forecastscale.forecasters.select`)
on the history before that day picks a model and its conformal shift of the 0.9 band, which then
make that day's forecasts.

    python benchmarks/forecast_accuracy.py [--trace CSV ...] [--days 7] [--every 1h] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from forecastscale.backtest.runner import resample
from forecastscale.config import ForecastSettings, load_config
from forecastscale.forecasters import MODELS, Forecaster, make_forecaster
from forecastscale.forecasters.evaluate import OriginScore, Scores, aggregate, score_horizons
from forecastscale.forecasters.select import Chooser
from forecastscale.sources.csvtrace import load_trace
from forecastscale.sources.prometheus import parse_duration

DATA = Path(__file__).resolve().parent.parent / "data"
HORIZONS_MIN = (5, 15, 30)
Q = 0.9
Table = dict[str, dict[int, list[OriginScore | None]]]


def traces(extra: list[Path]) -> list[tuple[str, Path, float]]:
    out = []
    for cfg_path in sorted(DATA.glob("*.yaml")):
        t = load_config(cfg_path).targets[0]
        assert t.backtest.trace is not None
        out.append((t.backtest.trace.name, t.backtest.trace, t.workload.demand_scale))
    return out + [(p.name, p, 1.0) for p in extra]


def score_models(y: np.ndarray, origins: list[int], horizons: list[int], build: Any, season: int,
                 window: int) -> Table:
    """Per model, per horizon, the score at every origin (one fit per model and origin)."""
    out: Table = {}
    for alias in MODELS:
        started = time.perf_counter()
        per_h: dict[int, list[OriginScore | None]] = {h: [] for h in horizons}
        for o in origins:
            scored = score_horizons(partial(build, alias), y, o, horizons, Q, season, window)
            for h in horizons:
                per_h[h].append(None if scored is None else scored[h])
        out[alias] = per_h
        print(f"    {alias:<15} {len(origins)} origins in {time.perf_counter() - started:6.1f} s", flush=True)
    return out


def auto_choices(y: np.ndarray, origins: list[int], build: Any, season: int, window: int, lead: int,
                 day: int) -> list[tuple[str, float]]:
    """``(model, calibration shift)`` ``auto`` would use at each origin: re-selected daily on the history before."""
    chooser = Chooser(tuple(a for a in MODELS if a != "ensemble"), build, horizon=lead, quantile=Q, season=season,
                      window=window, origins=ForecastSettings().selection_origins, span=2 * season, every=day)
    started = time.perf_counter()
    choices = []
    for o in origins:
        alias = chooser.alias_for(y[max(0, o - window - 2 * season): o], o)  # as the tape: window + span
        shift = chooser.selection.shift if chooser.selection and chooser.selection.choice == alias else 0.0
        choices.append((alias, shift))
    print(f"    {'auto (select)':<15} {time.perf_counter() - started:6.1f} s: {[c for c, _ in choices]}", flush=True)
    return choices


def run_trace(name: str, path: Path, scale: float, args: argparse.Namespace) -> dict[str, Any]:
    trace = load_trace(path)
    step = max(300.0, trace.step_s)
    y = resample(trace, step, scale)
    season, day = round(86400 / step), round(86400 / step)
    window = round(parse_duration(args.window) / step)
    horizons = sorted({max(1, math.ceil(m * 60 / step)) for m in HORIZONS_MIN})
    every = max(1, round(parse_duration(args.every) / step))
    last = len(y) - max(horizons)
    origins = list(range(last - round(args.days * 86400 / step), last + 1, every))
    print(f"{name}: {len(y)} steps of {step:g} s, {len(origins)} origins, horizons {horizons} steps", flush=True)
    extra = round(7 * 86400 / step)

    def build(alias: str) -> Forecaster:
        return make_forecaster(alias, season, seasons=(extra,), horizon=max(horizons))

    table = score_models(y, origins, horizons, build, season, window)
    choices = auto_choices(y, origins, build, season, window, max(horizons), day)
    table["auto"] = {h: [_shifted(table[c][h][k], shift) for k, (c, shift) in enumerate(choices)]
                     for h in horizons}
    result: dict[str, Any] = {"trace": name, "step_s": step, "origins": len(origins), "auto_choices": choices,
                              "models": {}}
    for alias, per_h in table.items():
        result["models"][alias] = {f"{round(h * step / 60)}m": aggregate(per_h[h]).__dict__ for h in horizons}
    return result


def _shifted(score: OriginScore | None, shift: float) -> OriginScore | None:
    return None if score is None else score.shifted(shift, Q)


def print_table(result: dict[str, Any]) -> None:
    print(f"\n{result['trace']} ({result['origins']} origins, fit step {result['step_s']:g} s)")
    horizons = list(next(iter(result["models"].values())))
    head = "".join(f" | {h:>5} MASE  pinball  cover" for h in horizons)
    print(f"{'model':<15}{head}")
    base = result["models"]["seasonal_naive"]
    for alias, per_h in result["models"].items():
        cells = ""
        for h in horizons:
            s = Scores(**per_h[h])
            cells += f" | {s.mase:10.3f} {s.pinball:8.4g} {s.coverage:6.1%}"
        gain = 1 - per_h[horizons[-1]]["mase"] / base[horizons[-1]]["mase"]
        print(f"{alias:<15}{cells} | {gain:+.1%} MASE vs seasonal_naive at {horizons[-1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trace", type=Path, action="append", default=[], help="another timestamp,value CSV")
    parser.add_argument("--days", type=float, default=7, help="span of the origins, ending at the trace's end")
    parser.add_argument("--every", default="1h", help="spacing of the origins (hourly: ~170 per week, enough to "
                        "measure a 0.9 coverage to about ±2.5 %)")
    parser.add_argument("--window", default="14d", help="history each fit sees")
    parser.add_argument("--only", default="", help="only the traces whose file name contains this")
    parser.add_argument("--json", type=Path, help="write the scores here")
    args = parser.parse_args()
    results = [run_trace(name, path, scale, args) for name, path, scale in traces(args.trace)
               if args.only in name]
    for r in results:
        print_table(r)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float), encoding="utf-8")


if __name__ == "__main__":
    main()
