"""Stockouts and alternative accelerators in the live loop: export and log what the fleet decided, patch the
alternatives' workloads.

The decision is :func:`~forecastscale.policy.fleet.decide_fleet`'s (the backtest's too): a pool whose node
request went unfulfilled past ``stockout_factor × node lead`` is stocked out (:mod:`forecastscale.policy.stockout`),
and a target with ``workload.alternatives`` gets its shortfall on the first alternative whose pool is not
(:mod:`forecastscale.policy.spill`). Here:

* ``forecastscale_pool_stocked_out{pool}`` is 1 while the pool is stocked out, and each change is logged once,
  with its reason (a warning when it begins: alert-worthy);
* each alternative's Deployment (or StatefulSet) is set to the replicas the fleet planned for it, 0 when not
  spilling — with the same fence and containment as the targets' own writes;
* ``forecastscale_alternative_replicas{target,pool}`` exports those replicas.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

from forecastscale.actuators.base import Actuator, Fence
from forecastscale.config import Config
from forecastscale.errors import ForecastscaleError
from forecastscale.policy.fleet import FleetDecision, FleetState
from forecastscale.policy.leadtimes import pool_lead_s
from forecastscale.policy.spill import SEPARATOR, alternatives
from forecastscale.policy.stockout import limit_s
from forecastscale.service.metrics import ServiceMetrics, error_kind

log = logging.getLogger("forecastscale.service")


@dataclass(frozen=True)
class SpillOutcome:
    """One alternative's tick: replicas wanted, what was done (patched | unchanged | standby | error)."""

    name: str
    desired: int
    action: str
    error: str | None = None


def seed_spilled(config: Config, state: FleetState, actuators: Mapping[str, Actuator]) -> FleetState:
    """``state`` with the replicas each alternative's workload has now, for alternatives it has no memory of (the
    first tick, or after a failover): an alternative left running by a former leader is then moved back as the
    target's own pods come up, not dropped to 0 at once. A workload that cannot be read is left out (logged)."""
    missing = [key for key in alternatives(config) if key not in state.spilled and key in actuators]
    if not missing:
        return state
    seeded = dict(state.spilled)
    for key in missing:
        try:
            seeded[key] = actuators[key].current().spec_replicas
        except ForecastscaleError as exc:
            log.warning("alternative %s: not read (%s); counted as 0 replicas", key, exc)
    return replace(state, spilled=seeded)


def report_stockouts(config: Config, before: FleetState, fleet: FleetDecision, metrics: ServiceMetrics) -> None:
    """Export every pool's stocked-out gauge; log each change against the fleet's state ``before`` this tick."""
    for pool in config.node_pools:
        was = pool.name in before.pools and before.pools[pool.name].supply.stocked_out
        now = pool.name in fleet.stocked_out
        metrics.stocked_out.labels(pool.name).set(1 if now else 0)
        if now and not was:
            log.warning("node pool %s: stocked out — nodes asked for and none Ready for %.0f s (stockout_factor "
                        "%g × node lead); its outstanding request is withdrawn, alternatives take the shortfall",
                        pool.name, limit_s(pool, pool_lead_s(config, before.leads, pool)), pool.stockout_factor)
        elif was and not now:
            log.info("node pool %s: delivers again (a node became Ready, or nothing is outstanding)", pool.name)


def apply_alternatives(config: Config, fleet: FleetDecision, actuators: Mapping[str, Actuator], may_patch: bool,
                       metrics: ServiceMetrics, fence: Fence | None = None) -> list[SpillOutcome]:
    """Set every alternative's workload to its planned replicas (if ``may_patch``); errors contained per workload."""
    out = []
    for key, (alt, owner) in alternatives(config).items():
        desired = fleet.alternatives.get(key, 0)
        metrics.alternative_replicas.labels(owner.name, key.split(SEPARATOR, 1)[1]).set(desired)
        actuator = actuators.get(key)
        if actuator is None:
            continue
        out.append(_apply(alt.workload.name, desired, actuator, may_patch, metrics, fence))
    return out


def _apply(name: str, desired: int, actuator: Actuator, may_patch: bool, metrics: ServiceMetrics,
           fence: Fence | None) -> SpillOutcome:
    if not may_patch:
        return SpillOutcome(name, desired, "standby")
    try:
        result = actuator.apply(desired, fence)
    except ForecastscaleError as exc:  # API errors, and NotLeader: fenced right before the write
        metrics.errors.labels(error_kind(exc)).inc()
        log.error("alternative %s: %s", name, exc)
        return SpillOutcome(name, desired, "error", str(exc))
    if result.changed:
        metrics.patches.labels("replicas").inc()
        log.info("alternative %s: %d → %d replicas", name, result.from_replicas, desired)
    return SpillOutcome(name, desired, result.outcome.value)
