"""A 20-point sweep on a 14-day trace at 1-minute decisions: serial vs parallel wall time.

Sweeps the predictive policy over 4 target utilisations × 5 forecast quantiles on the
bundled ELB config (20,200 decisions of 60 s), once in this process (``jobs=1``) and once
over every core, and prints both and the speed-up. The forecast fits are shared by all
points (computed once per sweep, serially), so that part does not parallelise; it is
timed on its own.

    python benchmarks/sweep_speed.py [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from forecastscale.backtest.runner import build_scenario
from forecastscale.backtest.sweep import shared_tape, sweep
from forecastscale.config import load_config
from forecastscale.sources.csvtrace import load_trace

DATA = Path(__file__).resolve().parent.parent / "data"
GRID = [{"target_utilisation": u, "quantile": q} for u in (0.5, 0.7, 0.9, 0.95) for q in (0.5, 0.8, 0.9, 0.95, 0.99)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel processes")
    args = parser.parse_args()
    cfg = load_config(DATA / "elb_request_count.yaml")
    target = cfg.targets[0]
    assert target.backtest.trace is not None
    sc = build_scenario(cfg, target, load_trace(target.backtest.trace))
    start = time.perf_counter()
    shared_tape(sc, (0.5, 0.8, 0.9, 0.95, 0.99))
    fits = time.perf_counter() - start
    timings = {}
    for jobs in (1, args.jobs):
        start = time.perf_counter()
        points = sweep(sc, ["predictive"], jobs=jobs, grids={"predictive": GRID})
        timings[jobs] = time.perf_counter() - start
        assert len(points) == len(GRID)
    print(f"20-point predictive sweep, 14-day trace, {len(sc.demand):,} decisions of 60 s; {os.cpu_count()} cores")
    print(f"shared forecast fits (serial, inside each sweep): {fits:6.2f} s")
    print(f"serial   (jobs=1):  {timings[1]:6.2f} s")
    print(f"parallel (jobs={args.jobs}):  {timings[args.jobs]:6.2f} s")
    print(f"speed-up: {timings[1] / timings[args.jobs]:.2f}x")


if __name__ == "__main__":
    main()
