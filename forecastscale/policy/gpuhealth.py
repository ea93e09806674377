"""Health-aware GPU capacity: what each pool can really run, and nodes to replace what is lost.

Per tick the caller reports every node (:class:`NodeHealth`: Ready, cordoned, GPU count, the
indices of GPUs reported unhealthy, e.g. by DCGM XID error counters or a node condition).
:func:`update` returns the next :class:`HealthMemory` and the :class:`Capacity`:

- a GPU reported unhealthy is excluded at once;
- a GPU that *became* unhealthy ``fail_threshold`` times within ``window_s`` (a flapping GPU)
  is quarantined: excluded until it has been seen healthy continuously for ``quarantine_s``;
- a NotReady or cordoned node contributes 0 GPUs.

A failure is an onset (healthy or unknown → unhealthy): a GPU unhealthy for ten ticks failed
once. Times in seconds, any monotonic origin. Pure: state in, state out; no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from forecastscale.types import NodeHealth


@dataclass(frozen=True)
class GpuRecord:
    """What is remembered of one GPU: failure onsets within the window (s), and its quarantine."""

    node: str
    gpu: int
    failures: tuple[float, ...] = ()
    unhealthy: bool = False  # as last observed
    healthy_since: float | None = None  # start of the current healthy spell, if proven
    quarantined: bool = False
    last_seen: float = 0.0


@dataclass(frozen=True)
class HealthMemory:
    """Immutable state between ticks: the records of GPUs with recent failures, and the last tick's time."""

    records: tuple[GpuRecord, ...] = ()
    t: float | None = None


@dataclass(frozen=True)
class Exclusion:
    """GPUs left out of a pool's capacity: a whole node (``gpu`` None) or one GPU, and why."""

    node: str
    pool: str
    gpus: int
    gpu: int | None
    reason: str


@dataclass(frozen=True)
class Capacity:
    """Per pool: GPUs on reported nodes (``total``) and those usable now; what was excluded and why."""

    total: dict[str, int]
    usable: dict[str, int]
    excluded: tuple[Exclusion, ...]

    def lost(self, pool: str) -> int:
        """GPUs of ``pool`` excluded now."""
        return self.total.get(pool, 0) - self.usable.get(pool, 0)

    def replacement_nodes(self, pool: str, gpus_per_node: int) -> int:
        """Nodes needed to replace the lost capacity: ``ceil(lost / gpus_per_node)``."""
        if gpus_per_node <= 0:
            raise ValueError(f"gpus_per_node must be > 0, got {gpus_per_node}")
        return math.ceil(self.lost(pool) / gpus_per_node)


def _observe(rec: GpuRecord, bad: bool, trusted: bool, t: float, threshold: int, window_s: float) -> GpuRecord:
    """One GPU's record after seeing it bad or not at ``t``; ``trusted`` False: its node is NotReady."""
    failures = tuple(f for f in rec.failures if t - f <= window_s)
    if bad:
        if not rec.unhealthy:
            failures += (t,)
        return replace(rec, failures=failures, unhealthy=True, healthy_since=None, last_seen=t,
                       quarantined=rec.quarantined or len(failures) >= threshold)
    if not trusted:
        # A NotReady node's health reports are stale: its GPUs' healthy spells are not proven.
        return replace(rec, failures=failures, healthy_since=None, last_seen=t)
    since = rec.healthy_since if rec.healthy_since is not None and not rec.unhealthy else t
    return replace(rec, failures=failures, unhealthy=False, healthy_since=since, last_seen=t)


def _why(rec: GpuRecord, t: float, quarantine_s: float) -> str | None:
    """Why this GPU is excluded now (and lift a served quarantine), or None."""
    if rec.unhealthy:
        return "reported unhealthy"
    if rec.quarantined and rec.healthy_since is not None and t - rec.healthy_since < quarantine_s:
        return (f"quarantined: {len(rec.failures)} failures within the window, healthy "
                f"{t - rec.healthy_since:g} s of {quarantine_s:g} s")
    if rec.quarantined and rec.healthy_since is None:
        return f"quarantined: {len(rec.failures)} failures within the window, health unproven"
    return None


def _step(
    rec: GpuRecord | None, obs: NodeHealth, gpu: int, t: float, rule: tuple[int, float, float]
) -> tuple[GpuRecord | None, str | None]:
    """One GPU at ``t``: the record to keep (None: nothing worth remembering) and why it is excluded."""
    bad = gpu in obs.unhealthy_gpus
    if rec is None and not bad:
        return None, None  # never failed, or forgotten
    threshold, window_s, quarantine_s = rule
    rec = _observe(rec or GpuRecord(obs.node, gpu), bad, obs.ready, t, threshold, window_s)
    why = _why(rec, t, quarantine_s)
    if rec.quarantined and why is None:
        rec = replace(rec, quarantined=False)  # served its quarantine; failures stay remembered
    return (rec if rec.failures or rec.quarantined or rec.unhealthy else None), why


def update(
    memory: HealthMemory,
    observations: Sequence[NodeHealth],
    t: float,
    *,
    fail_threshold: int = 2,
    window_s: float = 3600,
    quarantine_s: float = 1800,
) -> tuple[HealthMemory, Capacity]:
    """The next memory and the usable capacity at ``t`` (seconds) from this tick's node reports.

    Records of GPUs on nodes not reported for longer than ``window_s`` are forgotten (the node is gone).
    """
    if fail_threshold < 1 or window_s < 0 or quarantine_s < 0:
        raise ValueError(f"need fail_threshold >= 1, window_s and quarantine_s >= 0; got {fail_threshold}, "
                         f"{window_s:g}, {quarantine_s:g}")
    if memory.t is not None and t < memory.t:
        raise ValueError(f"time went backwards: {t:g} s after {memory.t:g} s")
    if len({o.node for o in observations}) != len(observations):
        raise ValueError("a node is reported twice")
    old = {(r.node, r.gpu): r for r in memory.records}
    seen = {o.node for o in observations}
    records = {k: r for k, r in old.items() if k[0] not in seen and t - r.last_seen <= window_s}
    total: dict[str, int] = {}
    usable: dict[str, int] = {}
    excluded: list[Exclusion] = []
    for obs in observations:
        total[obs.pool] = total.get(obs.pool, 0) + obs.gpus
        usable.setdefault(obs.pool, 0)
        node_ok = 0
        for gpu in range(obs.gpus):
            rec, why = _step(old.get((obs.node, gpu)), obs, gpu, t, (fail_threshold, window_s, quarantine_s))
            if rec is not None:
                records[obs.node, gpu] = rec
            if why is None:
                node_ok += 1
            elif obs.ready and not obs.cordoned:  # else the whole node is excluded below
                excluded.append(Exclusion(obs.node, obs.pool, 1, gpu, why))
        if not obs.ready or obs.cordoned:
            state = "NotReady" if not obs.ready else "cordoned"
            excluded.append(Exclusion(obs.node, obs.pool, obs.gpus, None, f"node {state}"))
        else:
            usable[obs.pool] += node_ok
    memory = HealthMemory(tuple(sorted(records.values(), key=lambda r: (r.node, r.gpu))), t)
    return memory, Capacity(total, usable, tuple(excluded))
