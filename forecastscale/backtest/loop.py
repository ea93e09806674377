"""The one backtest loop: targets replayed together through :func:`~forecastscale.policy.fleet.decide_fleet` and the
pool-level simulator, as the live tick runs them.

Each decision step ``t = i·dt``: ``sim.advance(t)`` → every target's observation (demand up to the last
completed step, its pods as simulated, the trace's queue, GPU-utilisation and KV-cache columns one step old as
well, the announced events in force as the service passes them) and every pool's state → one fleet
decision → ``sim.apply`` → each target's history records the scale event the simulator made → series.
A single-target backtest is a fleet of that one target (with every pool it may spill to); ``--shared-pool``
replays a config's targets together. Scores stay per target (:mod:`forecastscale.backtest.scores`).

**GPU-hours per target.** A pool's provisioned GPUs (nodes booting or Ready) are attributed each step
to the targets in proportion to the GPUs their bound pods hold on it; a pool holding no pod is
attributed by the pods the fleet planned on it, else to the targets whose own pool it is, else evenly.
The targets' GPU-hours thus add up to the fleet's; costs use each pool's ``gpu_hour_cost``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from forecastscale.backtest import disruptions
from forecastscale.backtest.cluster import Fault, FleetSimulator, Outage
from forecastscale.backtest.scenario import Scenario
from forecastscale.backtest.startup import Startup
from forecastscale.config import Config, NodePool, Target
from forecastscale.policy import leadtimes
from forecastscale.policy.base import Policy, PolicyHistory
from forecastscale.policy.event_book import EventBook
from forecastscale.policy.fleet import FleetDecision, FleetState, PoolMemory, TargetInput, decide_fleet
from forecastscale.policy.placement import Placement
from forecastscale.policy.predictive import PredictivePolicy, replicas_for
from forecastscale.types import Decision, FloatArray, Limit, Observation


@dataclass(frozen=True)
class FleetScenario:
    """Targets replayed together: ``config`` holds them (as replayed) and the pools they may use; ``members``
    one scenario per target, all of one decision step and length; events, faults and stockouts on the run's
    clock; the trace columns per target."""

    config: Config
    members: tuple[Scenario, ...]
    warmup_steps: int
    end_step: int
    book: EventBook
    faults: tuple[Fault, ...]
    outages: tuple[Outage, ...]
    columns: Mapping[str, Mapping[str, FloatArray]]
    placement: Placement  # the config's shapes and eligible pools, worked out once

    @property
    def step_s(self) -> float:
        return self.members[0].step_s


def fleet_config(members: Sequence[Scenario]) -> Config:
    """The first member's config with the members' targets (as replayed) and only the pools they may use."""
    base = members[0].config or Config(targets=[members[0].target], node_pools=[members[0].pool])
    targets = [sc.target for sc in members]
    placement = Placement(base)
    usable = {p for t in targets if t.name in placement.order for p in placement.eligible_pools(t.name)}
    usable |= {base.pool_for(t).name for t in targets} | {a.pool for t in targets for a in t.workload.alternatives}
    return base.model_copy(update={"targets": targets, "node_pools": [p for p in base.node_pools if p.name in usable]})


def fleet_scenario(members: Sequence[Scenario]) -> FleetScenario:
    """The members (aligned: one step, one length) replayed as one fleet, scored over their common span."""
    config = fleet_config(members)
    settings, pools = (members[0].config or config).backtest, [p.name for p in config.node_pools]
    return FleetScenario(config, tuple(members), max(sc.warmup_steps for sc in members),
                         min(sc.scored_end for sc in members), disruptions.book(settings, members),
                         disruptions.faults(settings, members, pools), disruptions.outages(settings, members, pools),
                         {sc.target.name: disruptions.columns(sc) for sc in members}, Placement(config))


@dataclass
class TargetSeries:
    """One target's per-step series (every step) and the scored steps' tallies."""

    capacity: FloatArray  # ready replicas × capacity_per_replica
    replicas: FloatArray
    gpus: FloatArray  # attributed provisioned GPUs
    cost: FloatArray  # attributed GPUs × the pool's gpu_hour_cost (per hour)
    wanted: FloatArray  # GPUs the policy asked for (its replicas × gpus_per_pod, before placement)
    granted: FloatArray  # GPUs after placement (the replicas it ran)
    forecasts: dict[float, FloatArray] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)
    capped_steps: int = 0
    cap_sizes: Counter[int] = field(default_factory=Counter)  # GPUs cut → scored steps
    switches: list[tuple[int, str]] = field(default_factory=list)  # guardrail switches: (step, reason), every step

    @classmethod
    def empty(cls, n: int, quantiles: Sequence[float]) -> TargetSeries:
        return cls(np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n),
                   forecasts={q: np.full(n, np.nan) for q in quantiles})


@dataclass(frozen=True)
class PoolSeries:
    """One pool after each step: nodes asked for and not removed, Ready nodes, GPUs lost on them (health
    faults), provisioned GPUs (nodes booting or Ready)."""

    nodes: FloatArray
    ready: FloatArray
    lost: FloatArray
    gpus: FloatArray


@dataclass(frozen=True)
class FleetRun:
    """A replayed fleet: per target and per pool its series at every step, and the arbitration messages of the
    scored steps."""

    scenario: FleetScenario
    targets: dict[str, TargetSeries]
    pools: dict[str, PoolSeries]
    messages: Counter[str]

    @property
    def nodes_total(self) -> FloatArray:
        """Every pool's nodes (asked for, not removed), summed, per step."""
        out: FloatArray = np.sum([p.nodes for p in self.pools.values()], axis=0)
        return out


def _start(fs: FleetScenario) -> tuple[FleetSimulator, FleetState]:
    """The cluster at step 0: each target's replicas for its first demand (bounded), placed and packed as the
    fleet would, every node and pod Ready; the fleet remembers those node counts."""
    startup = Startup(fs.config.backtest.startup, len(fs.members[0].demand) * fs.step_s)
    cfg, sim = fs.config, FleetSimulator(fs.config, fs.faults, fs.outages, fs.placement, startup)
    r0 = {sc.target.name: min(max(replicas_for(float(sc.demand[0]), sc.target), sc.target.scaling.min_replicas),
                              sc.target.scaling.max_replicas) for sc in fs.members}
    alloc = fs.placement.allocate(r0)
    nodes = {p.name: fs.placement.pack(p, alloc.on(p.name), headroom=True).nodes[p.name] for p in cfg.node_pools}
    sim.seed({n: alloc.total(n) for n in r0}, nodes)
    return sim, FleetState({p: PoolMemory(last_nodes=n) for p, n in nodes.items()})


def _observation(fs: FleetScenario, sc: Scenario, sim: FleetSimulator, i: int) -> Observation:
    """What target ``sc.target`` may know at step ``i``."""
    now, name, c = i * fs.step_s, sc.target.name, sim.counts(sc.target.name)
    wall = sc.trace.start.timestamp() + now  # cron schedules and announced events read the trace's own clock
    side = {k: float(v[i - 1]) if 0 < i <= len(v) else None for k, v in fs.columns[name].items()}
    lead = fs.config.leads(sc.target)
    events = tuple(fs.book.active(name, wall, lead_s=lead.pod_s, ahead_s=lead.node_s)) if len(fs.book) else ()
    return Observation(t=now, step_s=fs.step_s, demand_history=sc.demand[:i], current_replicas=c.replicas,
                       ready_replicas=c.ready, starting_replicas=c.starting, pending_replicas=c.pending,
                       wall_s=wall, queue=side.get("queue"), gpu_utilisation=side.get("gpu_utilisation"),
                       kv_cache=side.get("kv_cache"), events=events)


def run_fleet(fs: FleetScenario, policies: Mapping[str, Policy],
              on_progress: Callable[[int], None] | None = None) -> FleetRun:
    """Replay ``fs`` with ``policies`` by target name; ``on_progress(steps_done)`` every 1,000 steps."""
    sim, state = _start(fs)
    histories = {name: PolicyHistory() for name in policies}
    tally = _Tally(fs, policies)
    for i in range(len(fs.members[0].demand)):
        fd, state = step(fs, i, sim, policies, histories, state)
        tally.record(i, sim, fd)
        if on_progress is not None and (i + 1) % 1000 == 0:
            on_progress(i + 1)
    return FleetRun(fs, tally.series, tally.pools, tally.messages)


def step(fs: FleetScenario, i: int, sim: FleetSimulator, policies: Mapping[str, Policy],
         histories: dict[str, PolicyHistory], state: FleetState) -> tuple[FleetDecision, FleetState]:
    """Decision step ``i``, as the live tick: observe, decide the fleet, act, record in ``histories`` the scale
    events the simulator made; the decision and the fleet's next state."""
    now = i * fs.step_s
    sim.advance(now)
    inputs = {sc.target.name: TargetInput(_observation(fs, sc, sim, i), histories[sc.target.name])
              for sc in fs.members}
    pools = {p.name: sim.pool_state(p.name) for p in fs.config.node_pools}
    fd, state = decide_fleet(fs.placement, policies, inputs, pools, state)
    sim.apply(now, {**{n: d.replicas for n, d in fd.targets.items()}, **fd.alternatives},
              {p: plan.nodes for p, plan in fd.pools.items()})
    for name, inp in inputs.items():  # the change the simulator made, as the live loop records a patch
        histories[name] = fd.histories[name].scaled(now, sim.counts(name).replicas - inp.obs.current_replicas)
    # Lead times are measured from the writes made, as the live loop does: the policy knows only what it measured.
    book = leadtimes.wrote(state.leads, now, {n: (i.obs.current_replicas, sim.counts(n).replicas)
                                              for n, i in inputs.items()},
                           {p: (s.nodes, sim.node_count(p)) for p, s in pools.items()})
    return fd, replace(state, leads=book)


class _Tally:
    """Per-step series per target and pool, and the scored steps' reasons, cuts and arbitration messages."""

    def __init__(self, fs: FleetScenario, policies: Mapping[str, Policy]) -> None:
        n = len(fs.members[0].demand)
        self.fs, self.targets = fs, {t.name: t for t in fs.config.targets}
        self.rolling = {name: p.forecast for name, p in policies.items() if isinstance(p, PredictivePolicy)}
        self.series = {name: TargetSeries.empty(n, self.rolling[name].tape.quantiles if name in self.rolling else ())
                       for name in policies}
        self.pools = {p.name: PoolSeries(*(np.zeros(n) for _ in range(4))) for p in fs.config.node_pools}
        self.messages: Counter[str] = Counter()

    def record(self, i: int, sim: FleetSimulator, fd: FleetDecision) -> None:
        """Step ``i`` after the decision ``fd`` was applied."""
        scored = self.fs.warmup_steps <= i < self.fs.end_step
        for name in self.series:
            self._target(i, name, sim, fd.targets[name], fd.wanted.get(name, fd.targets[name].replicas), scored)
        for pool in self.fs.config.node_pools:
            self._pool(i, pool, sim, fd)
        if scored and fd.capped:
            self.messages["; ".join(dict.fromkeys(fd.capped.values()))] += 1

    def _target(self, i: int, name: str, sim: FleetSimulator, d: Decision, wanted: int, scored: bool) -> None:
        """Target ``name`` at step ``i``: pods as simulated, GPUs wanted (before placement) and run (``d``)."""
        s, t, c = self.series[name], self.targets[name], sim.counts(name)
        s.capacity[i], s.replicas[i] = sim.ready_capacity(name), c.replicas
        s.wanted[i], s.granted[i] = wanted * t.workload.gpus_per_pod, d.replicas * t.workload.gpus_per_pod
        if d.guardrail is not None and d.guardrail.switch:
            s.switches.append((i, d.guardrail.switch))
        for q, path in s.forecasts.items():
            value = self.rolling[name].value_at(i, q)
            path[i] = np.nan if value is None else value
        if scored:
            s.reasons[d.reason] += 1
            if Limit.CAPPED_SHARE in d.limits:
                s.capped_steps += 1
                s.cap_sizes[int(s.wanted[i] - s.granted[i])] += 1

    def _pool(self, i: int, pool: NodePool, sim: FleetSimulator, fd: FleetDecision) -> None:
        """Pool ``pool`` at step ``i``, and its GPUs attributed to the targets."""
        ps, now = self.pools[pool.name], sim.pool_state(pool.name)
        ps.nodes[i], ps.ready[i], ps.lost[i] = sim.node_count(pool.name), now.ready, now.lost_gpus
        ps.gpus[i] = sim.provisioned_gpus(pool.name)
        for name, gpus in _attribute(self.fs.config, pool.name, sim, fd).items():
            self.series[name].gpus[i] += gpus
            self.series[name].cost[i] += gpus * pool.gpu_hour_cost


def _attribute(cfg: Config, pool: str, sim: FleetSimulator, fd: FleetDecision) -> dict[str, float]:
    """``pool``'s provisioned GPUs split over the targets (see the module docstring)."""
    gpus = sim.provisioned_gpus(pool)
    if gpus == 0:
        return {}
    weights: Mapping[str, float] = sim.bound_gpus(pool)
    if not weights:  # an alternative's planned pods count for the target they serve
        by_name = sim.targets
        weights = Counter()
        for n, k in fd.pools[pool].placed.items():
            weights[sim.owner.get(n, n)] += k * by_name[n].workload.gpus_per_pod
    if not weights:
        weights = dict.fromkeys(_homed(cfg.targets, cfg, pool) or [t.name for t in cfg.targets], 1.0)
    total = sum(weights.values())
    return {n: gpus * w / total for n, w in weights.items()}


def _homed(targets: Sequence[Target], cfg: Config, pool: str) -> list[str]:
    return [t.name for t in targets if cfg.pool_for(t).name == pool]
