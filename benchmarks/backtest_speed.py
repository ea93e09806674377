"""Wall time and peak memory of a 14-day backtest at 1-minute decisions, per policy.

Replays the bundled 14-day ELB trace (data/elb_request_count.yaml: 20,200 decisions of 60 s)
once per policy, timing each run, then once more under tracemalloc for its peak Python
memory. Ratios are against ``reactive`` measured in this same run. Target: < 10 s per policy.

    python benchmarks/backtest_speed.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path

from forecastscale.backtest.runner import Scenario, build_scenario, make_policy, run_policy
from forecastscale.config import load_config
from forecastscale.sources.csvtrace import load_trace

DATA = Path(__file__).resolve().parent.parent / "data"
VARIANTS = [("reactive", None), ("predictive", "seasonal_naive"), ("predictive", "holt_winters"),
            ("oracle", None)]


def scenario(model: str | None) -> Scenario:
    cfg = load_config(DATA / "elb_request_count.yaml")
    target = cfg.targets[0]
    if model is not None:
        target = target.model_copy(update={"forecast": target.forecast.model_copy(update={"model": model})})
    assert target.backtest.trace is not None
    return build_scenario(cfg, target, load_trace(target.backtest.trace))


def measure(policy: str, model: str | None, repeat: int) -> tuple[float, float, int]:
    sc = scenario(model)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run_policy(sc, make_policy(policy, sc))
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    run_policy(sc, make_policy(policy, sc))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return min(times), peak / 2**20, len(sc.demand)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per policy (best is kept)")
    args = parser.parse_args()
    rows = [(p, m, *measure(p, m, args.repeat)) for p, m in VARIANTS]
    base = rows[0][2]
    print(f"14-day backtest, {rows[0][4]:,} decisions of 60 s, best of {args.repeat}")
    print(f"{'policy':<12} {'forecaster':<15} {'wall s':>8} {'vs reactive':>12} {'peak MiB*':>9} {'< 10 s':>7}")
    for policy, model, wall, peak, _ in rows:
        print(f"{policy:<12} {model or '-':<15} {wall:8.2f} {wall / base:11.1f}x {peak:9.1f} "
              f"{'yes' if wall < 10 else 'NO':>7}")


if __name__ == "__main__":
    main()
