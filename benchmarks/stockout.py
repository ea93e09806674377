"""What spill-over to another accelerator saves during stockouts: data/scenarios/stockout_spill.yaml without and with
its A100 alternative, reactive and predictive.

The scenario (see its header): the summariser of twitter_goog.yaml on H100 nodes, three 8-hour H100 stockouts, an
A100 Deployment at half the throughput per GPU as the alternative. *Without* is the same config with
``workload.alternatives`` removed: the stockout is still detected (and exported), but the H100 request stands and
the pods wait for it. *With*: the H100 request is withdrawn to its Ready nodes plus a probe, and the shortfall runs
on A100s until the H100 pool delivers again.

Prints per policy and variant: under-provisioned minutes over the scored span and within the stockout windows
(each from its start to 2 hours after its end, when the nodes asked for have arrived), unserved demand, GPU-hours
(H100 and A100, nodes booting or Ready) and cost (each pool's gpu_hour_cost), and the steps the fleet marked the
pool stocked out or ran A100 replicas. Not a timed test: about a minute per run on 2 cores.

    python benchmarks/stockout.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from forecastscale.backtest.loop import fleet_scenario, run_fleet
from forecastscale.backtest.runner import build_scenario, make_policy, target_result
from forecastscale.config import Config, load_config
from forecastscale.sources.csvtrace import load_trace
from forecastscale.types import Limit, underprovisioned

CONFIG = Path(__file__).resolve().parent.parent / "data" / "scenarios" / "stockout_spill.yaml"
AFTER_S = 7200.0  # a stockout's effects last past its end: the nodes asked for then still boot


def without_alternatives(cfg: Config) -> Config:
    """``cfg`` with every target's ``workload.alternatives`` removed."""
    targets = [t.model_copy(update={"workload": t.workload.model_copy(update={"alternatives": ()})})
               for t in cfg.targets]
    return cfg.model_copy(update={"targets": targets})


def run(cfg: Config, policy: str) -> list[str]:
    """One replay of ``cfg`` with ``policy``: the row's cells."""
    target = cfg.targets[0]
    assert target.backtest.trace is not None
    sc = build_scenario(cfg, target, load_trace(target.backtest.trace))
    fs = fleet_scenario([sc])
    fleet = run_fleet(fs, {target.name: make_policy(policy, sc)})
    r = target_result(fleet, target.name, policy)
    lo, hi, dt = fs.warmup_steps, fs.end_step, fs.step_s
    under = underprovisioned(sc.demand[lo:hi], r.capacity[lo:hi])
    in_window = np.zeros(hi - lo, dtype=bool)
    for o in fs.outages:
        steps = np.arange(lo, hi) * dt
        in_window |= (steps >= o.start_s) & (steps < o.end_s + AFTER_S)
    series = fleet.targets[target.name]
    stocked = sum(n for reason, n in series.reasons.items() if Limit.STOCKOUT.value in reason.split("/"))
    a100 = fleet.pools["a100-8x"].gpus[lo:hi].sum() * dt / 3600 if "a100-8x" in fleet.pools else 0.0
    return [f"{under.sum() * dt / 60:,.0f}", f"{(under & in_window).sum() * dt / 60:,.0f}",
            f"{r.scores.unserved_pct:.3f}", f"{r.scores.gpu_hours:,.1f}", f"{a100:,.1f}", f"{r.scores.cost:,.0f}",
            f"{stocked:,}"]


def main() -> None:
    cfg = load_config(CONFIG)
    header = ["policy", "spill-over", "under-prov. min", "of which in stockouts", "unserved %", "GPU-h",
              "of which A100", "cost", "steps short (stockout)"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for policy in ("reactive", "predictive"):
        for label, variant in (("without", without_alternatives(cfg)), ("with", cfg)):
            print("| " + " | ".join([policy, label, *run(variant, policy)]) + " |", flush=True)


if __name__ == "__main__":
    main()
