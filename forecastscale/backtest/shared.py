"""Several targets replayed together on the pools they share (``backtest --shared-pool``): the one backtest loop
(:func:`~forecastscale.backtest.loop.run_fleet`) with every member at once.

Each decision step every target's policy decides on its own observation, then the fleet places the
replicas as the live tick does: each target's own pool first, the next eligible pool for what does not
fit, and only what fits nowhere is capped — a full pool's GPUs shared out by every ``min_replicas``
first, the rest by ``share`` × unmet demand, whole pods (``capped:share`` in the reason). Pods of
several targets share nodes in the simulator, bin-packed on GPUs, CPU and memory. Pod priorities and
preemption are not modelled: a cut takes pods away at once, as a scale-down does.

Traces are aligned by their first step (they may come from different dates) and replayed for the
shortest one; scores start after the longest warm-up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from forecastscale.backtest.loop import fleet_scenario, run_fleet
from forecastscale.backtest.runner import RunResult, Scenario, make_policy, target_result
from forecastscale.config import NodePool
from forecastscale.errors import ConfigError
from forecastscale.types import FloatArray


@dataclass(frozen=True)
class SharedRun:
    """One policy's lockstep replay of a fleet's targets. Per-step arrays cover every step; counts (capped
    steps, messages) only the scored ones."""

    policy: str
    pools: tuple[NodePool, ...]  # the pools replayed (those the targets may use)
    runs: dict[str, RunResult]  # per target
    wanted_gpus: dict[str, FloatArray]  # what each policy asked for, GPUs per step
    granted_gpus: dict[str, FloatArray]  # what it ran after placement
    nodes: dict[str, FloatArray]  # per pool: nodes asked for and not removed, after each step
    warmup_steps: int
    capped_steps: dict[str, int]
    cap_sizes: dict[str, Counter[int]]  # GPUs capped → scored steps
    messages: Counter[str]  # arbitration message → scored steps

    @property
    def nodes_total(self) -> FloatArray:
        """Every replayed pool's nodes, summed, per step."""
        return next(iter(self.runs.values())).nodes

    @property
    def capacity_gpus(self) -> int:
        """GPUs the replayed pools hold at most (``max_nodes × gpus_per_node``, summed)."""
        return sum(p.max_nodes * p.gpus_per_node for p in self.pools)


def aligned(scenarios: Sequence[Scenario]) -> list[Scenario]:
    """``scenarios`` cut to the shortest, scored after the longest warm-up; ConfigError if their decision steps
    differ or nothing is left to score."""
    steps = {sc.step_s for sc in scenarios}
    if len(steps) != 1:
        raise ConfigError("--shared-pool", [f"targets must share one decision step; got {sorted(steps)}"])
    n = min(len(sc.demand) for sc in scenarios)
    warmup = max(sc.warmup_steps for sc in scenarios)
    if warmup >= n:
        raise ConfigError("--shared-pool", [f"the longest warm-up ({warmup} steps) leaves nothing of the "
                                            f"shortest trace ({n} steps) to score"])
    return [replace(sc, demand=sc.demand[:n].copy(), warmup_steps=warmup, end_step=None, window=None)
            for sc in scenarios]


def run_shared(scenarios: Sequence[Scenario], policy: str) -> SharedRun:
    """Replay ``scenarios`` (one per target, of one config) in lockstep under ``policy``."""
    scs = aligned(scenarios)
    fs = fleet_scenario(scs)
    run = run_fleet(fs, {sc.target.name: make_policy(policy, sc) for sc in scs})
    names = [sc.target.name for sc in scs]
    series = run.targets
    return SharedRun(policy, tuple(fs.config.node_pools), {n: target_result(run, n, policy) for n in names},
                     {n: series[n].wanted for n in names}, {n: series[n].granted for n in names},
                     {p: pool.nodes for p, pool in run.pools.items()},
                     fs.warmup_steps, {n: series[n].capped_steps for n in names},
                     {n: series[n].cap_sizes for n in names}, run.messages)
