"""Stockouts: a pool whose node request goes unfulfilled far past its node lead (pure).

A cloud region can run out of an accelerator: the node request stands, and no node comes. A cluster autoscaler
notices it by a timeout (``max-node-provision-time``) and backs off the node group; this module does the same
from what the fleet reads every tick — the pool's Ready nodes and the nodes asked for but not Ready.

* **Waiting.** From the first tick with nodes outstanding, the pool waits. A node that becomes Ready (Ready
  nodes rise) means the pool delivers: the rest of the request waits afresh from then. No node outstanding (the
  request satisfied, or withdrawn) ends the wait.
* **Stocked out** once a wait has lasted ``stockout_factor × node lead`` (:func:`limit_s`); it stays so until
  the pool delivers again, or nothing is outstanding any more.

The node lead is the pool's learned one where a target on it learns its leads
(:func:`~forecastscale.policy.leadtimes.pool_lead_s`), else its ``node_startup_s`` (the prior). Times are seconds
on the caller's clock (simulated in a backtest); the state (:class:`Supply`) is the caller's, kept in the fleet's
memory like the pools' other state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from forecastscale.config import NodePool
from forecastscale.errors import PolicyInputError

MAX_NODES = 1_000_000  # a larger node count is a misread, not a pool


@dataclass(frozen=True)
class Supply:
    """A pool's node supply as watched tick to tick: Ready nodes at the last tick, since when (seconds) nodes have
    been outstanding without one arriving (None: nothing outstanding), and since when the pool counts as stocked
    out (None: it does not)."""

    ready: int = 0
    waiting_since: float | None = None
    stocked_out_since: float | None = None

    @property
    def stocked_out(self) -> bool:
        """Whether the pool counts as stocked out now."""
        return self.stocked_out_since is not None


def limit_s(pool: NodePool, lead_s: float | None = None) -> float:
    """How long (seconds) a request may go unfulfilled before ``pool`` counts as stocked out: ``stockout_factor`` ×
    its node lead ``lead_s`` (None: the prior ``node_startup_s``)."""
    return pool.stockout_factor * (pool.node_startup_s if lead_s is None else lead_s)


def watch(prev: Supply, ready: int, starting: int, t: float, limit: float) -> Supply:
    """``prev`` moved to tick ``t`` (seconds) where the pool has ``ready`` Ready nodes and ``starting`` nodes asked
    for but not Ready; stocked out once a wait lasts ``limit`` seconds. Impossible inputs raise
    :class:`~forecastscale.errors.PolicyInputError` naming the input."""
    _check(prev, ready, starting, t, limit)
    if starting == 0:
        return Supply(ready)  # nothing outstanding: the request was satisfied or withdrawn
    delivered = ready > prev.ready
    since = t if delivered or prev.waiting_since is None else prev.waiting_since
    if delivered:
        return Supply(ready, since)  # a node arrived: the pool delivers again
    stocked = prev.stocked_out_since
    if stocked is None and t - since >= limit:
        stocked = t
    return Supply(ready, since, stocked)


def _check(prev: Supply, ready: int, starting: int, t: float, limit: float) -> None:
    """Counts are whole and within ``[0, MAX_NODES]``, times finite and not before the state's own."""
    for name, n in (("ready", ready), ("starting", starting)):
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_NODES:
            raise PolicyInputError(f"stockout: {name} nodes must be a whole number in [0, {MAX_NODES}], got {n!r}")
    if not isinstance(t, int | float) or not math.isfinite(t):
        raise PolicyInputError(f"stockout: time must be finite seconds, got {t!r}")
    if not isinstance(limit, int | float) or not (math.isfinite(limit) and limit >= 0):
        raise PolicyInputError(f"stockout: limit must be finite seconds ≥ 0, got {limit!r}")
    last = max((s for s in (prev.waiting_since, prev.stocked_out_since) if s is not None), default=-math.inf)
    if t < last:
        raise PolicyInputError(f"stockout: time {t} s is before the pool's last wait ({last} s)")
