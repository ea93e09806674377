"""Under-provisioned minutes and GPU-hours with and without the forecast guardrail, around a regime change.

Two scenarios on the NYC-taxi fleet (the target and pool of data/nyc_taxi.yaml):

* ``regime change`` — data/scenarios/nyc_regime_change.yaml: from 5 Nov 2014 the trace is replayed 12 hours
  late (the daily cycle turns over; ``backtest.regime_change``, applied in code, the CSV is unchanged),
  scored 4–12 Nov;
* ``blizzard`` — the real January 2015 storm (travel ban 26–27 Jan) on data/nyc_taxi.yaml, scored 24–31 Jan.

Each is replayed with the target as configured (an SLO of 1 % under-provisioned minutes, its margin
calibrated online) and with the fixed knobs instead (q0.9 at 70 % utilisation, no SLO); each by the
predictive policy without and with ``guardrail.enabled`` (its defaults). Prints GPU-hours, under-provisioned
minutes, unserved demand, the share of scored minutes a stand-in provisioned, and the switches in the scored span.

    python benchmarks/guardrail.py [--switches]
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

from forecastscale.backtest.loop import fleet_scenario, run_fleet
from forecastscale.backtest.runner import RunResult, make_policy, target_result
from forecastscale.backtest.scenario import Scenario
from forecastscale.backtest.window import build_window_scenario, parse_window
from forecastscale.config import Target, load_config
from forecastscale.sources.csvtrace import load_trace

DATA = Path(__file__).resolve().parent.parent / "data"
SCENARIOS = (("regime change", DATA / "scenarios" / "nyc_regime_change.yaml", "2014-11-04T00:00/2014-11-12T00:00"),
             ("blizzard", DATA / "nyc_taxi.yaml", "2015-01-24T00:00/2015-01-31T00:00"))


def variant(target: Target, slo: bool, guarded: bool) -> Target:
    """``target`` with its SLO (or the fixed knobs) and the guardrail on or off (its other settings kept)."""
    return target.model_copy(update={"slo": target.slo if slo else None,
                                     "guardrail": target.guardrail.model_copy(update={"enabled": guarded})})


def replay(path: Path, window: str, slo: bool, guarded: bool) -> tuple[Scenario, RunResult, list[tuple[int, str]]]:
    """One predictive replay of the first target of ``path`` over ``window``: scores and the guardrail's switches."""
    cfg = load_config(path)
    base = cfg.targets[0]
    assert base.backtest.trace is not None
    target = variant(base, slo, guarded)
    sc = build_window_scenario(cfg, target, load_trace(base.backtest.trace), parse_window(window))
    run = run_fleet(fleet_scenario([sc]), {target.name: make_policy("predictive", sc)})
    return sc, target_result(run, target.name, "predictive"), run.targets[target.name].switches


def fallen_back(sc: Scenario, switches: list[tuple[int, str]]) -> float:
    """Share of the scored steps a stand-in provisioned, from the switches' ``a → b`` (0–1)."""
    active, at, total = "model", 0, 0
    start, end = sc.warmup_steps, sc.scored_end
    for step, why in [*switches, (end, "model → model")]:
        if active != "model":
            total += max(0, min(step, end) - max(at, start))
        active, at = why.split(" → ")[1].split(":")[0], step
    return total / max(1, end - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--switches", action="store_true", help="print every switch with its reason")
    args = parser.parse_args()
    print(f"{'scenario':<14} {'sizing':<10} {'guardrail':<9} {'GPU-h':>8} {'under min':>9} {'unserved %':>10} "
          f"{'stand-in':>8} {'switches':>8}")
    for name, path, window in SCENARIOS:
        for slo in (True, False):
            for guarded in (False, True):
                sc, r, switches = replay(path, window, slo, guarded)
                scored = [(i, why) for i, why in switches if sc.warmup_steps <= i < sc.scored_end]
                minutes = r.scores.underprovisioned_pct / 100 * (sc.scored_end - sc.warmup_steps) * sc.step_s / 60
                print(f"{name:<14} {'SLO 1 %' if slo else 'q0.9/70 %':<10} {'on' if guarded else 'off':<9} "
                      f"{r.scores.gpu_hours:8,.0f} {minutes:9,.0f} {r.scores.unserved_pct:10.3f} "
                      f"{fallen_back(sc, switches):8.0%} {len(scored):8d}")
                for step, why in scored if args.switches else ():
                    print(f"    {sc.trace.start + timedelta(seconds=step * sc.step_s):%Y-%m-%d %H:%M}  {why}")


if __name__ == "__main__":
    main()
