"""Output of a shared-pool backtest (``backtest --shared-pool``): table, JSON, and how it is planned."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from forecastscale.backtest import explain
from forecastscale.backtest.shared import SharedRun, run_shared
from forecastscale.backtest.suite import Job, scenario_for

TOP = 3  # most frequent caps and messages shown


@dataclass(frozen=True)
class PoolResult:
    """Every policy's lockstep replay of the targets of one config (a fleet: the pools they share and spill to)."""

    config_path: Path
    jobs: list[Job]
    runs: dict[str, SharedRun]  # by policy, in the order run


def group_by_config(jobs: Sequence[Job]) -> list[list[Job]]:
    """The jobs of each config, in the order first seen: its targets are one fleet (pods may spill between
    its pools, so targets on different pools are replayed together too)."""
    groups: dict[Path, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.config_path, []).append(job)
    return list(groups.values())


def _pool_names(result: PoolResult | SharedRun) -> str:
    run = next(iter(result.runs.values())) if isinstance(result, PoolResult) else result
    return ", ".join(p.name for p in run.pools)


def run_pools(jobs: Sequence[Job], policies: Sequence[str],
              on_policy: Callable[[str], None] | None = None) -> list[PoolResult]:
    """Replay each config's targets in lockstep under each policy."""
    out = []
    for group in group_by_config(jobs):
        scenarios = [scenario_for(job) for job in group]
        runs = {}
        for p in policies:
            if on_policy is not None:
                on_policy(f"{group[0].config_path.name}: {p}")
            runs[p] = run_shared(scenarios, p)
        out.append(PoolResult(group[0].config_path, list(group), runs))
    return out


def target_summary(run: SharedRun, name: str) -> dict[str, Any]:
    """One target's scores in a shared run plus how often and how much it was capped.

    ``capped_steps``/``capped_pct``: scored steps where it got fewer replicas than its policy
    wanted; ``capped_gpu_pct``: GPUs cut as a share of the GPUs it wanted (scored steps);
    ``top_caps``: the most frequent cuts, in GPUs."""
    w = run.warmup_steps
    wanted = float(run.wanted_gpus[name][w:].sum())
    granted = float(run.granted_gpus[name][w:].sum())
    steps = len(run.nodes_total) - w
    return {
        **run.runs[name].scores.as_dict(),
        "capped_steps": run.capped_steps[name],
        "capped_pct": 100.0 * run.capped_steps[name] / steps if steps else 0.0,
        "capped_gpu_pct": 100.0 * (wanted - granted) / wanted if wanted > 0 else 0.0,
        "top_caps": [{"gpus": g, "steps": n} for g, n in run.cap_sizes[name].most_common(TOP)],
        "decision_reasons": run.runs[name].reasons,
    }


def to_json(results: Sequence[PoolResult]) -> dict[str, Any]:
    """``{"shared_pools": [{"config", "pool", "max_nodes", "capacity_gpus", "pools", "policies": {...}}]}``:
    ``pool`` names the replayed pools, ``max_nodes`` and ``capacity_gpus`` sum them, ``pools`` has each one."""
    pools = []
    for r in results:
        first = next(iter(r.runs.values()))
        policies = {
            p: {
                "scored_steps": len(run.nodes_total) - run.warmup_steps,
                "max_nodes_used": int(run.nodes_total.max()),
                "max_nodes_used_per_pool": {name: int(nodes.max()) for name, nodes in run.nodes.items()},
                "targets": {name: target_summary(run, name) for name in run.runs},
                "top_messages": [{"message": m, "steps": n} for m, n in run.messages.most_common(TOP)],
            }
            for p, run in r.runs.items()
        }
        pools.append({"config": str(r.config_path), "pool": _pool_names(first),
                      "max_nodes": sum(p.max_nodes for p in first.pools), "capacity_gpus": first.capacity_gpus,
                      "pools": [{"name": p.name, "max_nodes": p.max_nodes, "gpus_per_node": p.gpus_per_node}
                                for p in first.pools],
                      "targets": [j.target.name for j in r.jobs], "traces": [str(j.trace_path) for j in r.jobs],
                      "policies": policies})
    return {"shared_pools": pools}


def write_json(results: Sequence[PoolResult], path: Path) -> None:
    """Write :func:`to_json` to ``path`` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(results), indent=2) + "\n", encoding="utf-8")


def _caps(summary: dict[str, Any]) -> str:
    return ", ".join(f"{c['gpus']}×{c['steps']}" for c in summary["top_caps"]) or "–"


COLUMNS = ("policy", "target", "share", "GPU-h ↓", "under % ↓", "unserved % ↓", "capped steps ↓", "capped % ↓",
           "GPUs cut % ↓", "top cuts GPUs×steps")
CAPTION = ("under: % of minutes under-provisioned; unserved: % of demand; capped: scored steps the pool gave fewer "
           "replicas than asked (% of them); GPUs cut: % of the GPUs asked for")


def rich_table(result: PoolResult) -> Table:
    """One row per policy and target: GPU-hours, under-provisioned and unserved %, how often the pool
    capped it (scored steps, % of them), GPUs cut as % of those wanted, the most frequent cuts."""
    first = next(iter(result.runs.values()))
    sizes = " + ".join(f"{p.name}: {p.max_nodes} nodes × {p.gpus_per_node} GPUs" for p in first.pools)
    plural = "s" if len(first.pools) > 1 else ""
    table = Table(title=f"shared pool{plural} {sizes} = {first.capacity_gpus} GPUs ({result.config_path.name})",
                  title_justify="left", caption=f"{explain.LEGEND}; {CAPTION}", caption_justify="left")
    # Short headers: ten columns must stay readable in an 80-column terminal (the caption spells out the units).
    # JSON has the full names.
    for col in COLUMNS:
        table.add_column(col, justify="left" if col in ("policy", "target", "top cuts GPUs×steps") else "right")
    shares = {j.target.name: j.target.scheduling.share for j in result.jobs}
    for p, run in result.runs.items():
        for name in run.runs:
            s = target_summary(run, name)
            table.add_row(p, name, f"{shares[name]:g}", f"{s['gpu_hours']:,.1f}", f"{s['underprovisioned_pct']:.3f}",
                          f"{s['unserved_pct']:.3f}", str(s["capped_steps"]), f"{s['capped_pct']:.2f}",
                          f"{s['capped_gpu_pct']:.2f}", _caps(s))
    return table


def message_lines(result: PoolResult) -> list[str]:
    """The most frequent arbitration messages per policy, one line each."""
    lines = []
    for p, run in result.runs.items():
        steps = len(run.nodes_total) - run.warmup_steps
        for m, n in run.messages.most_common(TOP):
            lines.append(f"{p}: {n} of {steps} steps: {m}")
        if not run.messages:
            lines.append(f"{p}: no pool ever bound")
    return lines


def _totals(run: SharedRun) -> explain.Side:
    """A policy's GPU-hours summed over the targets, and its worst target's under-provisioned % of minutes."""
    scores = [r.scores for r in run.runs.values()]
    return explain.Side(sum(s.gpu_hours for s in scores), max(s.underprovisioned_pct for s in scores))


def verdict(result: PoolResult) -> str:
    """The line under :func:`rich_table`: predictive against reactive over the whole fleet (GPU-hours summed, the
    worst target's under-provisioning), and the oracle's floor."""
    metric, sides = "underprovisioned_pct", {p: _totals(run) for p, run in result.runs.items()}
    head = f"{len(result.jobs)} targets, GPU-h summed: "
    if "predictive" in sides and "reactive" in sides:
        head += explain.compare(metric, sides["predictive"], sides["reactive"], scope="worst target ")
    else:
        head += "; ".join(explain.summary(p, side.gpu_hours, metric, side.slo) for p, side in sides.items()
                          if p != "oracle") + " (worst target; no predictive and reactive pair to compare)"
    if (oracle := sides.get("oracle")) is not None:
        head += "; " + explain.oracle_clause(oracle.gpu_hours, metric, oracle.slo)
    return head
