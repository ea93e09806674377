"""What scale to zero saves and costs on sparse workloads: ``min_replicas`` 1 against 0, reactive and predictive.

Two workloads, derived in code from bundled traces (the CSVs are unchanged):

* **GOOG, trending only** — data/Twitter_volume_GOOG.csv (tweets mentioning GOOG per 5 min): a summariser
  that runs only while the topic trends — a 5-min count below 20 is no demand at all, a count at or above it
  is served in full (× 10 → tokens/s, as data/twitter_goog.yaml maps it). 61 % of the scored minutes are
  empty, in stretches from minutes to nights, with no daily rhythm: hard to foresee.
* **NYC taxi, office hours** — data/nyc_taxi.csv below its 30th percentile is no demand (nights): empty
  stretches a weekly model foresees.

Each on its config's target and pool (data/twitter_goog.yaml: 1-GPU pods on 8-GPU L4 nodes; data/nyc_taxi.yaml:
2-GPU pods on 8-GPU H100 nodes; 180 s pod and 420 s node start-up), at the fixed knobs (q0.9, 70 %
utilisation, no SLO), so that only ``min_replicas`` differs; ``idle_s`` (300) and ``wake_fraction`` (0.1) at
their defaults.

Prints per workload, policy and ``min_replicas``: GPU-hours (nodes booting or Ready), under-provisioned
minutes, unserved demand, cold starts (wakes from 0 replicas) and cold-start minutes (demand while no replica
is Ready), and the share of scored time at 0 replicas.

    python benchmarks/scale_to_zero.py     # ~8 min on 2 cores
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from forecastscale.backtest.runner import RunResult, build_scenario, make_policy, run_policy
from forecastscale.backtest.scenario import Scenario
from forecastscale.config import load_config
from forecastscale.sources.csvtrace import Trace, load_trace

DATA = Path(__file__).resolve().parent.parent / "data"
# (label, config, rule → the value below which a trace step is no demand)
WORKLOADS: tuple[tuple[str, str, Callable[[np.ndarray], float]], ...] = (
    ("GOOG, trending only", "twitter_goog.yaml", lambda values: 20.0),
    ("NYC taxi, office hours", "nyc_taxi.yaml", lambda values: float(np.quantile(values, 0.3))),
)


def sparse(trace: Trace, threshold: float) -> Trace:
    """The thresholding rule: a value below ``threshold`` becomes 0, the others are kept as they are."""
    return replace(trace, values=np.where(trace.values >= threshold, trace.values, 0.0))


def scenario(config: str, rule: Callable[[np.ndarray], float], min_replicas: int) -> Scenario:
    """``config``'s target on its thresholded trace, at its fixed knobs, with ``min_replicas``."""
    cfg = load_config(DATA / config)
    base = cfg.targets[0]
    assert base.backtest.trace is not None
    target = base.model_copy(update={"slo": None, "scaling": base.scaling.model_copy(
        update={"min_replicas": min_replicas})})
    trace = load_trace(base.backtest.trace)
    return build_scenario(cfg, target, sparse(trace, rule(trace.values)))


def cold(sc: Scenario, r: RunResult) -> tuple[int, float, float]:
    """Over the scored steps: wakes from 0 replicas, minutes with demand and nothing Ready, share of time at 0."""
    lo, hi = sc.warmup_steps, sc.scored_end
    replicas, demand, ready = r.replicas[lo - 1: hi], sc.demand[lo:hi], r.capacity[lo:hi]
    wakes = int(np.count_nonzero((replicas[:-1] == 0) & (replicas[1:] > 0)))
    cold_minutes = float(np.count_nonzero((demand > 0) & (ready <= 0))) * sc.step_s / 60
    return wakes, cold_minutes, float(np.mean(replicas[1:] == 0))


def row(label: str, policy: str, sc: Scenario) -> str:
    """One line of the table: ``policy`` replayed on ``sc``."""
    r = run_policy(sc, make_policy(policy, sc))
    minutes = r.scores.underprovisioned_pct / 100 * (sc.scored_end - sc.warmup_steps) * sc.step_s / 60
    wakes, cold_minutes, asleep = cold(sc, r)
    return (f"{label:<23} {policy:<11} {sc.target.scaling.min_replicas:>3} {r.scores.gpu_hours:9,.0f} "
            f"{minutes:9,.0f} {r.scores.unserved_pct:10.3f} {wakes:6d} {cold_minutes:8,.0f} {asleep:5.0%}")


def main() -> None:
    print(f"{'workload':<23} {'policy':<11} {'min':>3} {'GPU-h':>9} {'under min':>9} {'unserved %':>10} "
          f"{'wakes':>6} {'cold min':>8} {'at 0':>5}", flush=True)
    for label, config, rule in WORKLOADS:
        for policy in ("reactive", "predictive"):
            for min_replicas in (1, 0):
                print(row(label, policy, scenario(config, rule, min_replicas)), flush=True)


if __name__ == "__main__":
    main()
