"""One fleet decision for the live tick and the backtest: every target's policy, then the node pools (pure).

:func:`decide_fleet` is the one step both loops take (cluster-autoscaler uses one estimator for
simulation and scale-up): the live tick gives it what Prometheus and the API server say now, the
backtest what the trace and the simulated cluster say at simulated time ``t``. In order:

1. **Per target**: its policy decides on its observation and the history the caller owns; a target
   without a usable sample holds its replicas, or falls back to ``max(fallback_replicas, current)``
   after ``service.fallback_after_ticks`` such ticks (``hold`` / ``fallback``).
2. **Placement** (:mod:`forecastscale.policy.placement`): the replicas wanted go to each target's
   own pool first, then spill to the next eligible pool (selector, affinity, taints allow it);
   only what fits nowhere is capped, a full pool's GPUs shared by minima, then share × unmet
   demand (``spilled``, ``capped:share`` in the reason).
3. **Nodes per pool**: the pods planned over the node lead (``pods_ahead``) are placed the same
   way and bin-packed (GPUs, CPU, memory), plus ``headroom_nodes`` and nodes replacing unusable
   GPUs, within ``[min_nodes, max_nodes]``. Pools whose targets plan no nodes (the reactive HPA)
   are sized as a cluster autoscaler does: up at once for the pods that exist, down only after a
   node was unneeded for ``scale_down_unneeded_s``. While pods of a target on a pool are starting, the pool is
   not planned below its last plan (a node removed could be one they start on); nor while a target placed on
   it is degraded (missing data is not low demand).

The histories returned carry each tick's recommendation; a scale event is the caller's to record,
once the change was made (:meth:`~forecastscale.policy.base.PolicyHistory.scaled`). Lead times alike: first the
readiness observed (ready pods, Ready nodes) closes the waits in ``state.leads``, and a target with
``workload.lead.learn`` plans over what was measured (:mod:`~forecastscale.policy.leadtimes`); the caller records
its successful writes in the state returned (:func:`~forecastscale.policy.leadtimes.wrote`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from forecastscale.config import NodePool, Target
from forecastscale.policy import leadtimes, overflow
from forecastscale.policy.base import Policy, PolicyHistory
from forecastscale.policy.binpack import Packing
from forecastscale.policy.placement import Allocation, Placement
from forecastscale.policy.stockout import Supply
from forecastscale.types import Decision, Limit, Observation, PoolState, Source


@dataclass(frozen=True)
class TargetInput:
    """One target this tick: what it observes, its history, and how many ticks in a row it has had no usable
    demand sample (0: ``obs`` carries fresh data; then ``problem`` says why not)."""

    obs: Observation
    history: PolicyHistory = field(default_factory=PolicyHistory)
    missing_ticks: int = 0
    problem: str = ""


@dataclass(frozen=True)
class PoolPlan:
    """One pool: ``nodes`` wanted (planned pods packed + headroom + replacement, bounded), ``running`` the nodes the
    pods that exist occupy, ``placed`` planned pods and ``pods`` the pods wanted now per target; :attr:`why` the
    numbers (worked out when asked: the backtest never asks)."""

    nodes: int
    running: int
    placed: Mapping[str, int]
    pods: Mapping[str, int]
    packing: Packing
    notes: str = ""

    @property
    def why(self) -> str:
        """The packing's numbers, then anything the plan added or held."""
        return self.packing.message() + self.notes

    @property
    def spare(self) -> int:
        """Nodes beyond what the running pods occupy (what headroom/balloon pods reserve)."""
        return max(0, self.nodes - self.running)


@dataclass(frozen=True)
class PoolMemory:
    """What the fleet remembers of a pool: its last plan (nodes) and since when each surplus node has been
    unneeded (seconds, oldest first; cluster-autoscaler mode)."""

    last_nodes: int | None = None
    unneeded_since: tuple[float, ...] = ()
    supply: Supply = field(default_factory=Supply)  # nodes outstanding, stocked out (policy.stockout)


@dataclass(frozen=True)
class FleetState:
    """The fleet's own memory between ticks, by pool name, and the lead times measured (by target and pool: the
    caller records its successful writes in it, :func:`~forecastscale.policy.leadtimes.wrote`)."""

    pools: Mapping[str, PoolMemory] = field(default_factory=dict)
    leads: leadtimes.LeadBook = field(default_factory=leadtimes.LeadBook)
    spilled: Mapping[str, int] = field(default_factory=dict)  # replicas per alternative key last tick


@dataclass(frozen=True)
class FleetDecision:
    """Per target the final decision and next history (recommendations recorded, no scale event yet); per pool
    the plan; pods that fit no pool, with why."""

    targets: Mapping[str, Decision]
    histories: Mapping[str, PolicyHistory]
    pools: Mapping[str, PoolPlan]
    unplaced: Mapping[str, tuple[int, str]]
    wanted: Mapping[str, int] = field(default_factory=dict)  # replicas each policy asked for, before placement
    capped: Mapping[str, str] = field(default_factory=dict)  # why a target got fewer (the arbitration's numbers)
    errors: Mapping[str, str] = field(default_factory=dict)  # targets whose policy raised: held, with why
    alternatives: Mapping[str, int] = field(default_factory=dict)  # replicas per alternative key (policy.spill)
    stocked_out: Mapping[str, float] = field(default_factory=dict)  # stocked-out pools: since when (seconds)


def decide_fleet(placement: Placement, policies: Mapping[str, Policy], inputs: Mapping[str, TargetInput],
                 pools: Mapping[str, PoolState], state: FleetState) -> tuple[FleetDecision, FleetState]:
    """Decide every target in ``inputs`` (config order) and size every pool; see the module docstring.
    ``placement`` is the config's, built once (:class:`~forecastscale.policy.placement.Placement`)."""
    config = placement.config
    targets = [t for t in config.targets if t.name in inputs]
    book = leadtimes.observe(config, state.leads, {n: i.obs for n, i in inputs.items()}, pools, _t(inputs))
    inputs = {t.name: replace(inputs[t.name], obs=leadtimes.planned(config, book, inputs[t.name].obs, t))
              for t in targets}
    errors: dict[str, str] = {}
    own = {t.name: _decide(config.service.fallback_after_ticks, t, policies[t.name], inputs[t.name], errors)
           for t in targets}
    lost = {name: p.lost_gpus for name, p in pools.items()}
    supply = overflow.supplies(config, pools, {n: m.supply for n, m in state.pools.items()}, _t(inputs), book)
    caps = overflow.caps(config, supply, pools)
    wanted = {n: d.replicas for n, (d, _) in own.items()}
    now = placement.allocate(wanted, lost, caps)
    decisions = {t.name: _placed(t, config.pool_for(t), own[t.name][0], now) for t in targets}
    ahead = placement.allocate({n: d.planned for n, d in decisions.items()}, lost, caps)
    ov = overflow.place(placement, now, ahead, wanted, {n: d.planned for n, d in decisions.items()},
                        {n: i.obs.ready_replicas for n, i in inputs.items()}, lost, caps, supply, state.spilled)
    now, ahead = ov.now, ov.ahead
    decisions = {t.name: overflow.mark(decisions[t.name], config.pool_for(t).name, supply, wanted[t.name],
                                       now.total(t.name), ov.spilled) for t in targets}
    degraded = {t.name for t in targets if inputs[t.name].missing_ticks > 0}
    starting = {t.name for t in targets if inputs[t.name].obs.starting_replicas > 0}
    plans, memory = {}, {}
    for pool in config.node_pools:
        plans[pool.name], memory[pool.name] = _size(placement, pool, now, ahead, policies, pools.get(pool.name),
                                                    state.pools.get(pool.name, PoolMemory()), (degraded, starting),
                                                    _t(inputs))
        if pool.name in caps:  # stocked out: withdraw what would land late
            nodes, note = overflow.withdraw(pool, plans[pool.name].nodes, pools.get(pool.name),
                                            pool.name in ov.probe)
            plans[pool.name] = replace(plans[pool.name], nodes=nodes, notes=plans[pool.name].notes + note)
            memory[pool.name] = replace(memory[pool.name], last_nodes=nodes)
        memory[pool.name] = replace(memory[pool.name], supply=supply[pool.name])
    histories = {n: h for n, (_, h) in own.items()}
    unplaced = {**now.unplaced, **{n: v for n, v in ahead.unplaced.items() if n not in now.unplaced}}
    stocked = {n: s.stocked_out_since for n, s in supply.items() if s.stocked_out_since is not None}
    return (FleetDecision(decisions, histories, plans, unplaced, wanted, dict(now.capped), errors, ov.spilled,
                          stocked), FleetState(memory, book, ov.spilled))


def _t(inputs: Mapping[str, TargetInput]) -> float:
    """The tick's time (seconds): every observation of one tick carries the same."""
    return next(iter(inputs.values())).obs.t if inputs else 0.0


def _decide(after_ticks: int, target: Target, policy: Policy, inp: TargetInput,
            errors: dict[str, str]) -> tuple[Decision, PolicyHistory]:
    """The policy's decision, or a hold; a policy that raises is contained to its target (held, reported)."""
    if inp.missing_ticks:
        return hold(target, inp, after_ticks), inp.history
    try:
        return policy.decide(inp.obs, inp.history)
    except Exception as exc:  # one target's bad data or a bug it meets must not stop the fleet
        errors[target.name] = f"{type(exc).__name__}: {str(exc)[:200]}"
        held = TargetInput(inp.obs, inp.history, 1, f"internal error ({errors[target.name]})")
        return hold(target, held, 1 << 30), inp.history


def hold(target: Target, inp: TargetInput, after_ticks: int) -> Decision:
    """No usable demand sample: keep the replicas as they are, or after ``after_ticks`` such ticks
    ``max(fallback_replicas, current)`` — missing data never scales down."""
    current, fallback = inp.obs.current_replicas, target.scaling.fallback_replicas
    why = f"{inp.problem or 'no data'}; {inp.missing_ticks} ticks without data"
    if fallback is None or inp.missing_ticks < after_ticks:
        return Decision(replicas=current, source=Source.HOLD, message=f"{why}: holding {current}")
    replicas = max(fallback, current)
    return Decision(replicas=replicas, source=Source.FALLBACK, candidates={"fallback": fallback},
                    message=f"{why} ≥ {after_ticks}: max(fallback {fallback}, current {current}) = {replicas}")


def _placed(target: Target, home: NodePool, d: Decision, alloc: Allocation) -> Decision:
    """``d`` after placement: cut to what fits (``capped:share``), and noting pods placed away from home."""
    granted = alloc.granted.get(target.name, {})
    total, limits, notes = sum(granted.values()), list(d.limits), []
    away = {pool: n for pool, n in granted.items() if pool != home.name and n}
    if away:
        limits.append(Limit.SPILLED)
        notes.append("spilled " + ", ".join(f"{n} pods to {pool}" for pool, n in away.items()))
    if target.name in alloc.capped:
        limits.append(Limit.CAPPED_SHARE)
        notes.append(alloc.capped[target.name])
    else:
        total = d.replicas  # pods that fit no pool at all are reported (unplaced), never cut to zero
    if not notes:
        return d
    candidates = {**d.candidates, "capped": total} if total != d.replicas else d.candidates
    return replace(d, replicas=total, limits=tuple(limits), message=f"{d.message}; {'; '.join(notes)}",
                   candidates=candidates, pods_ahead=None if d.pods_ahead is None else max(d.pods_ahead, total))


def _size(placement: Placement, pool: NodePool, now: Allocation, ahead: Allocation, policies: Mapping[str, Policy],
          state: PoolState | None, memory: PoolMemory, held: tuple[set[str], set[str]],
          t: float) -> tuple[PoolPlan, PoolMemory]:
    """One pool's plan and memory; see the module docstring (step 3)."""
    pods, placed = now.on(pool.name), ahead.on(pool.name)
    running = placement.pack(pool, pods, headroom=False).nodes[pool.name]
    packing = placement.pack(pool, placed, headroom=True)
    planned = packing.nodes[pool.name]
    since: tuple[float, ...] = ()
    lost = state.lost_gpus if state else 0
    replace_gpus = -(-lost // pool.gpus_per_node)
    if placed and not any(policies[n].plans_nodes for n in placed if n in policies):  # a cluster-autoscaler pool
        planned, since = _autoscaler(pool, planned, memory, t)
    nodes = min(planned + replace_gpus, pool.max_nodes)
    degraded, starting = held
    if memory.last_nodes is not None and any(n in starting for n in pods):
        nodes = max(nodes, min(memory.last_nodes, pool.max_nodes))  # no node goes while pods on the pool start
    if memory.last_nodes is not None and any(n in degraded for n in placed):
        nodes = max(nodes, memory.last_nodes)  # missing data is not low demand
    notes = f"; +{replace_gpus} nodes replacing {lost} unusable GPUs" if replace_gpus else ""
    return PoolPlan(nodes, running, placed, pods, packing, notes), PoolMemory(nodes, since)


def _autoscaler(pool: NodePool, needed: int, memory: PoolMemory, t: float) -> tuple[int, tuple[float, ...]]:
    """Cluster-autoscaler-like: nodes for the pods that exist at once; a surplus node goes once it has been
    unneeded for ``scale_down_unneeded_s`` (the oldest timers go first when the surplus shrinks)."""
    current = memory.last_nodes if memory.last_nodes is not None else needed
    if needed >= current:
        return needed, ()
    surplus, since = current - needed, memory.unneeded_since
    since = since[len(since) - surplus:] if surplus < len(since) else since + (t,) * (surplus - len(since))
    removable = sum(1 for s in since if t - s >= pool.scale_down_unneeded_s)
    return max(current - removable, needed), since[removable:]
