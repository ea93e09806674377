"""GPU-hours and under-provisioned minutes with the constant lead vs the learned lead, at matched SLO.

Replays each bundled config (data/elb_request_count.yaml, data/twitter_goog.yaml, data/nyc_taxi.yaml) on a
simulated cluster whose start-up times vary (``backtest.startup``): every pod log-normal with p50 150 s / p90
420 s, every node p50 420 s / p90 900 s, seed 0 (no drift by default; ``--drift 2`` doubles them by the trace's
end). The predictive policy plans over

* ``constant``: the config's ``pod_startup_s`` 180 s and ``node_startup_s`` 420 s (what it plans over today);
* ``learned``: ``workload.lead.learn`` — the P90 of the pod and node leads it measured in the simulation,
  the constants being the prior until 5 measurements exist;
* ``known p90`` (reference): the true p90s (420 s, 900 s) as constants, which no real config knows.

Each predictive run holds the SLO (``--slo matched``): its metric at the level reactive reached on the same
draws (reactive does not depend on the lead); ``--slo config`` holds the configs' own ``slo.target`` (1 %
under-provisioned minutes) instead, ``--slo off`` no SLO at all (the knobs). Columns: GPU-hours and
under-provisioned % of the scored span.

    python benchmarks/lead_times.py [--slo matched|config|off] [--drift 1.0] [--configs data/elb_request_count.yaml ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from forecastscale.backtest.suite import SloMode, plan_jobs, run_job, scenario_for
from forecastscale.config import Config, LeadSettings, Spread, StartupDraws, load_config

DATA = Path(__file__).resolve().parent.parent / "data"
CONFIGS = ("elb_request_count.yaml", "twitter_goog.yaml", "nyc_taxi.yaml")
POD, NODE = Spread(p50=150, p90=420), Spread(p50=420, p90=900)


def variant(config: Config, name: str, drift: float) -> Config:
    """``config`` replayed with drawn start-up times, its targets planning over the lead ``name`` says."""
    draws = StartupDraws(pod=POD, node=NODE, drift=drift, seed=0)
    targets = []
    for t in config.targets:
        work = t.workload
        if name == "learned":
            work = work.model_copy(update={"lead": LeadSettings(learn=True, quantile=0.9)})
        elif name == "known p90":
            work = work.model_copy(update={"pod_startup_s": POD.p90})
        targets.append(t.model_copy(update={"workload": work}))
    pools = [p.model_copy(update={"node_startup_s": NODE.p90}) if name == "known p90" else p
             for p in config.node_pools]
    return config.model_copy(update={"targets": targets, "node_pools": pools,
                                     "backtest": config.backtest.model_copy(update={"startup": draws})})


def row(path: Path, name: str, drift: float, slo: SloMode) -> tuple[str, str, float, float, float, float, float,
                                                                       float]:
    """(trace, lead, SLO aimed, reactive GPU-h, reactive under %, predictive GPU-h, under %, wall s)."""
    cfg = variant(load_config(path), name, drift)
    job = plan_jobs([(path, cfg)], [], None)[0]
    started = time.perf_counter()
    result = run_job(job, scenario_for(job), ["reactive", "predictive"], slo=slo)
    reactive, predictive = result.runs["reactive"].scores, result.runs["predictive"].scores
    aim = result.slo.target if result.slo is not None else float("nan")
    return (job.trace_path.name, name, aim, reactive.gpu_hours, reactive.underprovisioned_pct,
            predictive.gpu_hours, predictive.underprovisioned_pct, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drift", type=float, default=1.0, help="start-up times × this at the trace's end")
    parser.add_argument("--configs", nargs="*", type=Path, default=[DATA / c for c in CONFIGS])
    parser.add_argument("--variants", default="constant,learned,known p90")
    parser.add_argument("--slo", choices=("matched", "config", "off"), default="matched",
                        help="matched: the SLO reactive reached; config: the config's slo.target (1 %%); off: no "
                        "SLO, the knobs (forecast.quantile 0.9, target utilisation 0.7)")
    args = parser.parse_args()
    print(f"pods p50 {POD.p50:g} s / p90 {POD.p90:g} s, nodes p50 {NODE.p50:g} s / p90 {NODE.p90:g} s, "
          f"drift {args.drift:g}, seed 0; predictive holding the SLO ({args.slo}, underprovisioned_pct)")
    print("| trace | lead planned over | SLO ≤ | reactive GPU-h | predictive GPU-h | "
          "predictive under-provisioned % | wall s |")
    print("|---|---|---|---|---|---|---|")
    for path in args.configs:
        for name in args.variants.split(","):
            trace, lead, aim, r_gpu, _, p_gpu, p_under, wall = row(path, name, args.drift, args.slo)
            print(f"| {trace} | {lead} | {aim:.3g} | {r_gpu:,.1f} | {p_gpu:,.1f} | {p_under:.3g} | {wall:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
