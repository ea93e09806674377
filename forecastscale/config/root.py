"""The whole file (:class:`Config`): targets, the node pools they run on, backtest and service settings, and
the checks that span them — references between sections, and what the live loop allocates per target, bounded
in ticks (:data:`MAX_HISTORY_STEPS`, :data:`MAX_HORIZON_STEPS`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from string import Template

from pydantic import Field, model_validator

from forecastscale.config.backtest import BacktestSettings
from forecastscale.config.base import _Model
from forecastscale.config.pool import NodePool
from forecastscale.config.queries import QueryKind
from forecastscale.config.service import ServiceSettings
from forecastscale.config.target import Target
from forecastscale.edge import shown

MAX_HISTORY_STEPS = 3_000_000  # per target, at service.tick_s: a 48 MB buffer (the history is kept twice over)
MAX_HORIZON_STEPS = 1_000_000  # per fit: forecast paths of 8 MB each


@dataclass(frozen=True)
class Leads:
    """Lead times of one target (seconds): a pod asked for now is Ready after ``pod_s``; capacity that needs a
    new node after ``node_s + pod_s`` (:attr:`total_s`). :meth:`steps` turns a lead into whole decision steps."""

    pod_s: float
    node_s: float

    @property
    def total_s(self) -> float:
        """A new node, then the pod on it."""
        return self.node_s + self.pod_s

    @staticmethod
    def steps(seconds: float, step_s: float) -> int:
        """Whole steps of ``step_s`` seconds covering ``seconds`` (capacity asked at a step is ready by then)."""
        return math.ceil(seconds / step_s - 1e-9)


def leads(target: Target, pool: NodePool) -> Leads:
    """``target``'s lead times on ``pool``: the one place they are worked out."""
    return Leads(pod_s=target.workload.pod_startup_s, node_s=pool.node_startup_s)


def _duplicates(what: str, names: list[str]) -> list[str]:
    return [f"duplicate {what} name {shown(n)}" for n in sorted(set(names)) if names.count(n) > 1]


def _pool_problems(i: int, target: Target, pools: dict[str, NodePool]) -> list[str]:
    """``target`` (``targets[i]``) names a pool that exists, and its pods fit on that pool's nodes."""
    where, names = f"targets[{i}]", list(pools)
    name = target.scheduling.node_pool or (names[0] if len(names) == 1 else None)
    if name is None:
        return [f"{where}.scheduling.node_pool: required with several pools {shown(names)}"]
    if name not in pools:
        return [f"{where}.scheduling.node_pool: unknown pool {shown(name)}; have {shown(names)}"]
    if (gpus := target.workload.gpus_per_pod) > pools[name].gpus_per_node:
        return [f"{where}.workload.gpus_per_pod: {gpus} exceeds gpus_per_node {pools[name].gpus_per_node} "
                f"of pool {shown(name)}"]
    return _alternative_problems(where, target, name, pools)


def _alternative_problems(where: str, target: Target, home: str, pools: dict[str, NodePool]) -> list[str]:
    """Each of ``target``'s alternatives names another existing pool whose nodes fit its pods."""
    problems = []
    for k, alt in enumerate(target.workload.alternatives):
        field = f"{where}.workload.alternatives[{k}]"
        if alt.pool == home:
            problems.append(f"{field}.pool: {shown(alt.pool)} is the target's own pool; name another")
        elif alt.pool not in pools:
            problems.append(f"{field}.pool: unknown pool {shown(alt.pool)}; have {shown(list(pools))}")
        elif alt.gpus_per_pod > pools[alt.pool].gpus_per_node:
            problems.append(f"{field}.gpus_per_pod: {alt.gpus_per_pod} exceeds gpus_per_node "
                            f"{pools[alt.pool].gpus_per_node} of pool {shown(alt.pool)}")
    return problems


class Config(_Model):
    """The whole file: targets, the node pools they run on, backtest and service settings."""

    targets: list[Target] = Field(min_length=1)
    node_pools: list[NodePool] = Field(min_length=1)
    backtest: BacktestSettings = Field(default_factory=BacktestSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)

    @model_validator(mode="after")
    def _references(self) -> Config:
        pools = {p.name: p for p in self.node_pools}
        names = [t.name for t in self.targets]
        problems = _duplicates("node pool", [p.name for p in self.node_pools])
        for i, t in enumerate(self.targets):
            problems += _pool_problems(i, t, pools)
        problems += _duplicates("target", names)
        problems += self.backtest.references(names, list(pools))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @model_validator(mode="after")
    def _buffer_sizes(self) -> Config:
        # After _references (so every pool resolves). The live loop allocates a target's history and forecast
        # paths in ticks: seconds bounded each on its own can still multiply into gigabytes at tick_s 1.
        problems = [line for i, t in enumerate(self.targets) for line in self._buffer_problems(i, t)]
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _buffer_problems(self, i: int, target: Target) -> list[str]:
        tick, forecast, problems = self.service.tick_s, target.forecast, []
        if (steps := math.ceil(forecast.history_s() / tick)) > MAX_HISTORY_STEPS:
            problems.append(f"targets[{i}].forecast: keeps {steps:,} steps of history at service.tick_s {tick} "
                            f"(window_s, plus two seasons for auto); at most {MAX_HISTORY_STEPS:,}")
        learning = target.workload.lead.ceiling if target.workload.lead.learn else 1.0  # a learned lead's cap
        lead = forecast.refit_interval_s + self.leads(target).total_s * learning
        if (ahead := math.ceil(lead / max(forecast.step_s, tick))) > MAX_HORIZON_STEPS:
            problems.append(f"targets[{i}].forecast: forecasts {ahead:,} steps ahead (refit_interval_s + pod "
                            f"and node startup, per fit step); at most {MAX_HORIZON_STEPS:,}")
        return problems

    def pool(self, name: str) -> NodePool:
        """The pool called ``name``."""
        return next(p for p in self.node_pools if p.name == name)

    def pool_for(self, target: Target) -> NodePool:
        """The pool ``target`` runs on (its ``scheduling.node_pool``, or the only pool)."""
        return self.pool(target.scheduling.node_pool or self.node_pools[0].name)

    def leads(self, target: Target) -> Leads:
        """How long capacity asked for now takes to serve ``target`` on its own pool."""
        return leads(target, self.pool_for(target))

    def query(self, target: Target, kind: QueryKind) -> str | None:
        """``target``'s PromQL of ``kind`` (its own, else the service default), variables filled in."""
        own = getattr(target.queries, kind)
        text = own if own is not None else getattr(self.service.queries, kind)
        if text is None:
            return None
        work = target.workload
        return Template(text).substitute(target=target.name, namespace=work.namespace, workload=work.name)
