"""Fit + predict time per forecaster on a 14-day series at 1-min steps, and one ``auto`` selection.

The series is the bundled 14-day ELB trace held over 1-min steps (20,160 points). Every model is
timed as the service runs it — on 5-min buckets (4,032 points, daily season 288, weekly 2,016;
forecast 16 steps, quantiles 0.5/0.9/0.99) — and again directly on the 1-min points (season
1,440) for the models that are meant to cope. The service's budget: refitting 1,000 targets
hourly must fit in one core-hour, i.e. ≈ 3.6 s per target; the last column says who meets it.
``auto`` is one selection (rolling origins × every candidate: 12 at the 2-bucket lead, for 24 scored steps)
plus the winner's fit.

    python benchmarks/forecast_speed.py [--repeat 3] [--skip-1min]
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial
from pathlib import Path

import numpy as np

from forecastscale.backtest.runner import resample
from forecastscale.forecasters import MODELS, Forecaster, make_forecaster
from forecastscale.forecasters.select import select
from forecastscale.sources.csvtrace import load_trace

DATA = Path(__file__).resolve().parent.parent / "data"
BUDGET_S = 3.6
QUANTILES = (0.5, 0.9, 0.99)
ONE_MIN_MODELS = ("seasonal_naive", "holt_winters", "sarimax", "gbm")


def timed(build: partial[Forecaster], y: np.ndarray, h: int, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        build().fit(y).predict(h, QUANTILES)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-1min", action="store_true", help="only the 5-min bucket runs")
    args = parser.parse_args()
    trace = load_trace(DATA / "elb_request_count_8c0756.csv")
    one_min = resample(trace, 60.0, 0.1)
    five_min = one_min[: len(one_min) // 5 * 5].reshape(-1, 5).mean(axis=1)
    print(f"series: {len(one_min):,} points at 60 s → {len(five_min):,} buckets of 300 s\n")
    print(f"{'model':<16}{'5-min fit+predict s':>20}{'1-min fit+predict s':>21}{'vs holt_winters (5-min)':>25}"
          f"{'≤ 3.6 s':>9}")
    times = {}
    for alias in MODELS:
        t5 = timed(partial(make_forecaster, alias, 288, seasons=(2016,), horizon=16), five_min, 16, args.repeat)
        t1 = (timed(partial(make_forecaster, alias, 1440, horizon=80), one_min, 80, 1)
              if alias in ONE_MIN_MODELS and not args.skip_1min else float("nan"))
        times[alias] = (t5, t1)
    base = times["holt_winters"][0]  # the default model, measured in this run
    for alias, (t5, t1) in times.items():
        print(f"{alias:<16}{t5:>20.3f}{t1:>21.3f}{t5 / base:>24.1f}x{'yes' if t5 <= BUDGET_S else 'NO':>9}")
    factories = {a: partial(make_forecaster, a, 288, seasons=(2016,), horizon=16) for a in MODELS if a != "ensemble"}
    started = time.perf_counter()
    chosen = select(factories, five_min, horizon=2, quantile=0.9, season=288, window=2016, origins=6, span=576)
    make_forecaster(chosen.choice, 288, seasons=(2016,), horizon=16).fit(five_min[-2016:]).predict(16, QUANTILES)
    took = time.perf_counter() - started
    origins = chosen.scores[chosen.choice].origins
    print(f"\nauto: one selection ({len(factories)} candidates × {origins} origins) + fit = {took:.1f} s "
          f"→ {chosen.choice}; "
          f"once a day per target that is {took / 24:.2f} s per hourly refit on average")


if __name__ == "__main__":
    main()
