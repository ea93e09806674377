"""The fleet's stockout step: watch every pool's supply, place pods with stocked-out pools capped at their Ready
nodes, spill the shortfall onto alternative accelerators, withdraw the request that would land late (pure).

:func:`~forecastscale.policy.fleet.decide_fleet` calls, in order:

1. :func:`supplies` — each pool's :class:`~forecastscale.policy.stockout.Supply` after this tick (an unread pool
   keeps its last one: a pool is never judged blind);
2. :func:`place` — the placement of the pods wanted now and planned ahead, with the stocked-out pools that
   targets with alternatives run on capped at their Ready nodes' GPUs, and each alternative's replicas
   (:mod:`forecastscale.policy.spill`) placed with them;
3. :func:`mark` — a target short on its stocked-out pool gets :attr:`~forecastscale.types.Limit.STOCKOUT` and the
   numbers in its message;
4. :func:`withdraw` — a capped pool asks for its Ready nodes only, plus one probe node while pods are short on
   it: the probe's arrival is how the fleet learns that the pool delivers again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from forecastscale.config import Config, NodePool
from forecastscale.policy import leadtimes, spill
from forecastscale.policy.placement import Allocation, Placement
from forecastscale.policy.stockout import Supply, limit_s, watch
from forecastscale.types import Decision, Limit, PoolState


@dataclass(frozen=True)
class Overflow:
    """This tick's placement under stockouts: pods now and ahead; GPUs each capped pool offers; replicas per
    alternative key (every configured one, 0 when not spilling); pools that keep a probe node asked for."""

    now: Allocation
    ahead: Allocation
    caps: Mapping[str, int]
    spilled: Mapping[str, int]
    probe: frozenset[str]


def supplies(config: Config, states: Mapping[str, PoolState], memory: Mapping[str, Supply], t: float,
             book: leadtimes.LeadBook) -> dict[str, Supply]:
    """Each pool's supply at ``t`` (seconds), from its state as read and its supply last tick; a wait is judged
    against the pool's node lead, learned where ``book`` says so."""
    out = {}
    for pool in config.node_pools:
        prev, state = memory.get(pool.name, Supply()), states.get(pool.name)
        limit = limit_s(pool, leadtimes.pool_lead_s(config, book, pool))
        out[pool.name] = prev if state is None or not state.read else watch(prev, state.ready, state.starting, t,
                                                                            limit)
    return out


def caps(config: Config, supply: Mapping[str, Supply], states: Mapping[str, PoolState]) -> dict[str, int]:
    """GPUs each stocked-out pool that targets with alternatives run on offers: its Ready nodes' (usable)."""
    return spill.caps(config, {name for name, s in supply.items() if s.stocked_out}, states)


def place(placement: Placement, now: Allocation, ahead: Allocation, wanted: Mapping[str, int],
          planned: Mapping[str, int], ready: Mapping[str, int], lost: Mapping[str, int], caps: Mapping[str, int],
          supply: Mapping[str, Supply], before: Mapping[str, int]) -> Overflow:
    """The alternatives for what ``now`` and ``ahead`` (placed with ``caps``) leave short of ``wanted`` replicas
    and ``planned`` pods per target, placed with them; ``ready`` pods per target, ``before`` each alternative's
    replicas last tick."""
    config = placement.config
    stocked = {name for name, s in supply.items() if s.stocked_out}
    spill_now: dict[str, int] = {}
    spill_ahead: dict[str, int] = {}
    for t in (t for t in config.targets if t.workload.alternatives and t.name in wanted):
        out, n = config.pool_for(t).name in stocked, t.name
        draining = any(before.get(spill.key(n, a.pool), 0) for a in t.workload.alternatives)
        spill_now |= spill.spill_to(t, spill.short(wanted[n], now.total(n), ready[n], out, draining), stocked)
        spill_ahead |= spill.spill_to(t, spill.short(planned[n], ahead.total(n), ready[n], out, draining), stocked)
    probe = frozenset(p for p in caps if any(_short_on(t.name, now, ahead, wanted, planned) for t in config.targets
                                             if t.name in planned and config.pool_for(t).name == p))
    if any(spill_now.values()) or any(spill_ahead.values()):  # alternatives' pods claim their pools too
        now = placement.allocate({**wanted, **spill_now}, lost, caps)
        ahead = placement.allocate({**planned, **{k: max(v, spill_now[k]) for k, v in spill_ahead.items()}}, lost,
                                   caps)
    return Overflow(now, ahead, caps, spill_now, probe)


def _short_on(name: str, now: Allocation, ahead: Allocation, wanted: Mapping[str, int],
              planned: Mapping[str, int]) -> bool:
    """Whether target ``name`` got fewer pods than it wants now or plans ahead."""
    return now.total(name) < wanted[name] or ahead.total(name) < planned[name]


def mark(d: Decision, home: str, supply: Mapping[str, Supply], wanted: int, granted: int,
         spilled: Mapping[str, int]) -> Decision:
    """``d`` of a target whose own pool ``home`` is stocked out and holds only ``granted`` of its ``wanted`` pods:
    it keeps ``wanted`` replicas (the rest wait pending, with no node asked for them; cutting them would feed back
    into the HPA's rate limits, which count from the current replicas), with :attr:`Limit.STOCKOUT` instead of a
    share cap (nothing was shared: nodes are not to be had) and the numbers; the alternatives (``spilled``
    replicas by key) named."""
    s = supply.get(home)
    if s is None or s.stocked_out_since is None or granted >= wanted:
        return d
    limits = (*(x for x in d.limits if x is not Limit.CAPPED_SHARE), Limit.STOCKOUT)
    where = ", ".join(f"{n} on {k.split(spill.SEPARATOR, 1)[1]}" for k, n in spilled.items() if n)
    note = (f"pool {home} stocked out (nothing delivered since {s.waiting_since:.0f} s): {wanted - granted} "
            f"pods wait there" + (f", covered by {where}" if where else ", no alternative"))
    candidates = {k: v for k, v in d.candidates.items() if k != "capped"}
    return replace(d, replicas=wanted, limits=limits, message=f"{d.message}; {note}", candidates=candidates)


def withdraw(pool: NodePool, nodes: int, state: PoolState | None, probe: bool) -> tuple[int, str]:
    """A capped pool's nodes instead of ``nodes``: at most its Ready ones, plus one probe while pods are short on
    it (within ``max_nodes``); the rest of the request is withdrawn so that it does not land late on top of the
    alternatives. With a note for the plan."""
    ready = state.ready if state is not None else 0
    out = min(min(nodes, ready) + (1 if probe else 0), pool.max_nodes)
    if out == nodes:
        return nodes, ""
    probing = " + 1 probe" if probe else ""
    return out, f"; stocked out: {out} nodes (Ready {ready}{probing}) instead of {nodes}, the rest withdrawn"
