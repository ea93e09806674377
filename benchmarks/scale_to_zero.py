"""What scale to zero saves and costs on a sparse workload: ``min_replicas`` 1 against 0, reactive and predictive.

The workload is derived in code from the bundled Twitter trace (data/Twitter_volume_GOOG.csv, tweets
mentioning GOOG per 5 min; the CSV is unchanged): a summariser that runs only while the topic trends — a
5-min count below ``THRESHOLD`` (20) is no demand at all, a count at or above it is served in full (× 10 →
tokens/s, as data/twitter_goog.yaml maps it). That leaves 60 % of the 5-min steps empty, in stretches from
minutes to nights. The target and pool are those of data/twitter_goog.yaml (1-GPU pods of 50 tokens/s on
8-GPU L4 nodes, 180 s pod and 420 s node start-up), at its fixed knobs (q0.9, 70 % utilisation, no SLO), so
that only ``min_replicas`` differs; ``idle_s`` (300) and ``wake_fraction`` (0.1) at their defaults.

Prints per policy and ``min_replicas``: GPU-hours (nodes booting or Ready), under-provisioned minutes,
unserved demand, cold starts (wakes from 0 replicas) and cold-start minutes (demand while no replica is
Ready), and the share of scored time at 0 replicas.

    python benchmarks/scale_to_zero.py
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from forecastscale.backtest.runner import RunResult, build_scenario, make_policy, run_policy
from forecastscale.backtest.scenario import Scenario
from forecastscale.config import load_config
from forecastscale.sources.csvtrace import Trace, load_trace

DATA = Path(__file__).resolve().parent.parent / "data"
THRESHOLD = 20.0  # tweets per 5 min: below it the topic is not trending and nothing runs


def sparse(trace: Trace) -> Trace:
    """The thresholding rule: a value below :data:`THRESHOLD` becomes 0, the others are kept as they are."""
    return replace(trace, values=np.where(trace.values >= THRESHOLD, trace.values, 0.0))


def scenario(min_replicas: int) -> Scenario:
    """data/twitter_goog.yaml's target on the sparse trace, at its fixed knobs, with ``min_replicas``."""
    cfg = load_config(DATA / "twitter_goog.yaml")
    base = cfg.targets[0]
    assert base.backtest.trace is not None
    target = base.model_copy(update={"slo": None, "scaling": base.scaling.model_copy(
        update={"min_replicas": min_replicas})})
    return build_scenario(cfg, target, sparse(load_trace(base.backtest.trace)))


def cold(sc: Scenario, r: RunResult) -> tuple[int, float, float]:
    """Over the scored steps: wakes from 0 replicas, minutes with demand and nothing Ready, share of time at 0."""
    lo, hi = sc.warmup_steps, sc.scored_end
    replicas, demand, ready = r.replicas[lo - 1: hi], sc.demand[lo:hi], r.capacity[lo:hi]
    wakes = int(np.count_nonzero((replicas[:-1] == 0) & (replicas[1:] > 0)))
    cold_minutes = float(np.count_nonzero((demand > 0) & (ready <= 0))) * sc.step_s / 60
    return wakes, cold_minutes, float(np.mean(replicas[1:] == 0))


def main() -> None:
    sc0 = scenario(0)
    empty = float(np.mean(sc0.demand[sc0.warmup_steps:] == 0))
    print(f"{sc0.trace.name} thresholded at {THRESHOLD:g} per 5 min: {empty:.0%} of the scored minutes without "
          f"demand; {len(sc0.demand) - sc0.warmup_steps:,} scored decisions of {sc0.step_s:g} s")
    print(f"{'policy':<11} {'min':>3} {'GPU-h':>8} {'under min':>9} {'unserved %':>10} {'wakes':>6} "
          f"{'cold min':>8} {'at 0':>5}")
    for policy in ("reactive", "predictive"):
        for min_replicas in (1, 0):
            sc = scenario(min_replicas)
            r = run_policy(sc, make_policy(policy, sc))
            minutes = r.scores.underprovisioned_pct / 100 * (sc.scored_end - sc.warmup_steps) * sc.step_s / 60
            wakes, cold_minutes, asleep = cold(sc, r)
            print(f"{policy:<11} {min_replicas:>3} {r.scores.gpu_hours:8,.0f} {minutes:9,.0f} "
                  f"{r.scores.unserved_pct:10.3f} {wakes:6d} {cold_minutes:8,.0f} {asleep:5.0%}")


if __name__ == "__main__":
    main()
