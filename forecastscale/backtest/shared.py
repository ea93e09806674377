"""Several targets replayed in lockstep on one node pool whose ``max_nodes`` binds.

Each decision step every target's policy decides on its own observation; then the pool is
shared out as the live tick does (``policy.arbitration``): when the nodes the targets' pods
need exceed ``max_nodes``, their GPU claims (replicas × ``gpus_per_pod``) are arbitrated —
every ``min_replicas`` first, the rest by ``share`` × unmet demand, whole pods — and each
target runs what it was granted. Node requests are then shared out the same way (the nodes
the granted pods need first, the policies' look-ahead nodes by share), so the pool never
holds more than ``max_nodes`` nodes.

Approximation: each target keeps its own simulator, i.e. its pods sit on nodes of their own
(``ceil(pods / pods_per_node)`` of them) and never share a node with another target's pods.
A real scheduler packs pods of several targets onto one node, so this overstates
fragmentation: when the grants, rounded up to whole nodes per target, overflow ``max_nodes``
although their GPUs would fit, the lightest partial node (pods × share) is given up, and the
message says so. It also ignores pod priorities and preemption (a cut takes pods away at once,
as a scale-down) and any node that is not a whole multiple of the pod's GPUs.

Traces are aligned by their first step (they may come from different dates) and replayed for
the shortest one; scores start after the longest warm-up.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from forecastscale.backtest.runner import RunResult, Scenario, make_policy
from forecastscale.backtest.scores import score
from forecastscale.backtest.simulator import ClusterSimulator
from forecastscale.config import NodePool, Target
from forecastscale.errors import ConfigError
from forecastscale.policy.arbitration import Arbitration, Claim, arbitrate
from forecastscale.policy.base import Policy
from forecastscale.policy.nodes import pods_per_node
from forecastscale.policy.predictive import replicas_for
from forecastscale.types import Decision, FloatArray, Observation


def _nodes(pods: int, pool: NodePool, t: Target) -> int:
    """Nodes of its own that ``pods`` pods of ``t`` need (unclamped: the pool's bound is the question)."""
    return math.ceil(pods / pods_per_node(pool, t.gpus_per_pod))


def _fit_nodes(replicas: Sequence[int], targets: Sequence[Target], pool: NodePool) -> tuple[list[int], list[str]]:
    """Give up partial nodes until the targets' own node counts fit ``max_nodes``; what was given up.

    The partial node given up is the one whose pods weigh least (pods × GPUs × share), among the
    targets above the nodes their minimum needs (so minima hold whenever they fit at all)."""
    r, notes = list(replicas), []
    while sum(_nodes(x, pool, t) for x, t in zip(r, targets, strict=True)) > pool.max_nodes:
        per = [pods_per_node(pool, t.gpus_per_pod) for t in targets]
        above = [k for k, t in enumerate(targets) if _nodes(r[k], pool, t) > _nodes(t.min_replicas, pool, t)]
        candidates = above or [k for k in range(len(r)) if r[k] > 0]
        k = min(candidates, key=lambda k: ((r[k] % per[k] or per[k]) * targets[k].gpus_per_pod * targets[k].share,
                                           targets[k].name))
        cut = r[k] % per[k] or per[k]
        r[k] -= cut
        notes.append(f"then {targets[k].name} gave up a partial node ({cut} pods) to fit {pool.max_nodes} nodes")
    return r, notes


def grant_replicas(wanted: Sequence[int], targets: Sequence[Target],
                   pool: NodePool) -> tuple[list[int], Arbitration | None, str | None]:
    """Replicas each target may run, the arbitration and its message (None, None: all fit).

    The claims are arbitrated over ``max_nodes × gpus_per_node`` GPUs; then, since each target's
    pods sit on nodes of their own here, partial nodes are given up while the grants rounded up to
    nodes still overflow ``max_nodes`` (at most one node fewer per target than the pool holds)."""
    if sum(_nodes(w, pool, t) for w, t in zip(wanted, targets, strict=True)) <= pool.max_nodes:
        return list(wanted), None, None
    claims = [Claim(t.name, w * t.gpus_per_pod, t.min_replicas * t.gpus_per_pod, t.share, t.gpus_per_pod)
              for w, t in zip(wanted, targets, strict=True)]
    arb = arbitrate(claims, pool.max_nodes * pool.gpus_per_node)
    replicas, notes = _fit_nodes([arb.granted[t.name] // t.gpus_per_pod for t in targets], targets, pool)
    return replicas, arb, "; ".join([arb.message(), *notes])


def grant_nodes(wanted: Sequence[int], replicas: Sequence[int], current: Sequence[int],
                targets: Sequence[Target], pool: NodePool) -> list[int]:
    """Nodes each target's simulator is asked for, summing to at most ``max_nodes``.

    Each target wants its policy's node count, never below the nodes its pods hold now (the
    simulator removes only empty nodes); the nodes its granted pods need are guaranteed, the
    rest (look-ahead) goes by share."""
    holding = [min(c, _nodes(r, pool, t)) for c, r, t in zip(current, replicas, targets, strict=True)]
    want = [max(w, h) for w, h in zip(wanted, holding, strict=True)]
    if sum(want) <= pool.max_nodes:
        return want
    claims = [Claim(t.name, w, _nodes(r, pool, t), t.share, 1) for w, r, t in zip(want, replicas, targets, strict=True)]
    arb = arbitrate(claims, pool.max_nodes)
    return [arb.granted[t.name] for t in targets]


@dataclass(frozen=True)
class SharedRun:
    """One policy's lockstep replay of a pool's targets. Per-step arrays cover every step;
    counts (capped steps, messages) only the scored ones."""

    policy: str
    pool: NodePool
    runs: dict[str, RunResult]  # per target
    wanted_gpus: dict[str, FloatArray]  # what each policy asked for, GPUs per step
    granted_gpus: dict[str, FloatArray]  # what it ran after arbitration
    nodes_total: FloatArray  # the pool's nodes (ready + starting) after each step
    warmup_steps: int
    capped_steps: dict[str, int]
    cap_sizes: dict[str, Counter[int]]  # GPUs capped → scored steps
    messages: Counter[str]  # arbitration message → scored steps

    @property
    def capacity_gpus(self) -> int:
        return self.pool.max_nodes * self.pool.gpus_per_node


def _aligned(scenarios: Sequence[Scenario]) -> list[Scenario]:
    pools = {sc.pool.name for sc in scenarios}
    steps = {sc.step_s for sc in scenarios}
    if len(pools) != 1 or len(steps) != 1:
        raise ConfigError("--shared-pool", [f"targets must share one pool and decision step; got pools "
                                            f"{sorted(pools)}, steps {sorted(steps)}"])
    n = min(len(sc.demand) for sc in scenarios)
    warmup = max(sc.warmup_steps for sc in scenarios)
    if warmup >= n:
        raise ConfigError("--shared-pool", [f"the longest warm-up ({warmup} steps) leaves nothing of the "
                                            f"shortest trace ({n} steps) to score"])
    return [replace(sc, demand=sc.demand[:n].copy(), warmup_steps=warmup, end_step=None, window=None)
            for sc in scenarios]


_SERIES = ("capacity", "gpus", "replicas", "nodes", "want", "got")


class _Tally:
    """Per-step series per target, and the scored steps' reasons, caps and messages."""

    def __init__(self, names: Sequence[str], n: int, warmup: int) -> None:
        self.series = {k: {name: np.zeros(n) for name in names} for k in _SERIES}
        self.warmup = warmup
        self.reasons: dict[str, Counter[str]] = {name: Counter() for name in names}
        self.capped = dict.fromkeys(names, 0)
        self.sizes: dict[str, Counter[int]] = {name: Counter() for name in names}
        self.messages: Counter[str] = Counter()

    def record(self, i: int, t: Target, sim: ClusterSimulator, d: Decision, granted: int) -> None:
        values = {"capacity": sim.pods_ready * t.capacity_per_replica, "gpus": sim.provisioned_gpus,
                  "replicas": sim.replicas, "nodes": sim.nodes_ready + len(sim.nodes_starting),
                  "want": d.replicas * t.gpus_per_pod, "got": granted * t.gpus_per_pod}
        for key, value in values.items():
            self.series[key][t.name][i] = value
        cut = (d.replicas - granted) * t.gpus_per_pod
        if i < self.warmup:
            return
        self.reasons[t.name][d.reason + ("/capped:share" if cut > 0 else "")] += 1  # as the live tick names it
        if cut > 0:
            self.capped[t.name] += 1
            self.sizes[t.name][cut] += 1


def _decide(scs: Sequence[Scenario], policies: Sequence[Policy], sims: Sequence[ClusterSimulator],
            i: int) -> list[Decision]:
    """Every target's own decision at step ``i``, each on its own observation (trace clock for cron)."""
    out = []
    for sc, pol, sim in zip(scs, policies, sims, strict=True):
        now = i * sc.step_s
        sim.advance(now)
        v = sim.view()
        out.append(pol.decide(Observation(now, sc.step_s, sc.demand[:i], v.replicas, v.ready, v.starting, v.pending,
                                          v.nodes_ready, v.nodes_starting, wall_s=sc.trace.start.timestamp() + now)))
    return out


def run_shared(scenarios: Sequence[Scenario], policy: str) -> SharedRun:
    """Replay ``scenarios`` (one per target, same pool) in lockstep under ``policy``."""
    scs = _aligned(scenarios)
    pool, dt, n, w = scs[0].pool, scs[0].step_s, len(scs[0].demand), scs[0].warmup_steps
    targets = [sc.target for sc in scs]
    policies = [make_policy(policy, sc) for sc in scs]
    r0, _, _ = grant_replicas([min(max(replicas_for(float(sc.demand[0]), sc.target), sc.target.min_replicas),
                                   sc.target.max_replicas) for sc in scs], targets, pool)
    sims = [ClusterSimulator(t, pool, r, _nodes(r, pool, t)) for t, r in zip(targets, r0, strict=True)]
    tally = _Tally([t.name for t in targets], n, w)
    nodes_total = np.zeros(n)
    for i in range(n):
        decisions = _decide(scs, policies, sims, i)
        replicas, _, message = grant_replicas([d.replicas for d in decisions], targets, pool)
        current = [sim.nodes_ready + len(sim.nodes_starting) for sim in sims]
        nodes = grant_nodes([d.nodes for d in decisions], replicas, current, targets, pool)
        for t, sim, d, r, k in zip(targets, sims, decisions, replicas, nodes, strict=True):
            sim.apply(i * dt, r, k)
            tally.record(i, t, sim, d, r)
        nodes_total[i] = sum(sim.nodes_ready + len(sim.nodes_starting) for sim in sims)
        if message is not None and i >= w:
            tally.messages[message] += 1
    ser = tally.series
    runs = {t.name: RunResult(policy, score(sc.demand, ser["capacity"][t.name], ser["gpus"][t.name],
                                            ser["replicas"][t.name], ser["nodes"][t.name], dt, w,
                                            pool.gpu_hour_cost, t.max_wait_s),
                              ser["capacity"][t.name], ser["replicas"][t.name], ser["nodes"][t.name],
                              dict(tally.reasons[t.name]))
            for sc, t in zip(scs, targets, strict=True)}
    return SharedRun(policy, pool, runs, ser["want"], ser["got"], nodes_total, w, tally.capped, tally.sizes,
                     tally.messages)
