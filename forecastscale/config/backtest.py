"""How a trace is replayed (config ``backtest:``), and what the replay adds to it: announced events, GPU-health
faults and node stockouts, so a backtest exercises every feature of the live tick.

* :class:`BacktestEvent` — a webhook-style event (``POST /v1/events``), bounded as :class:`EventRequest` is;
  the replay books it at the start of the run and hands its window to the target's observations exactly
  as the service does (pre-warmed by the target's ``workload.pod_startup_s``).
* :class:`HealthFault` — ``gpus`` GPUs, or ``nodes`` whole nodes, of a pool unusable for ``duration_s``.
* :class:`Stockout` — a pool's node requests are not fulfilled for ``duration_s``.

Every ``start`` is either an ISO-8601 date-time **with a zone** (``2015-01-01T00:00:00Z``), read on the
clock of the trace (a target's own trace for an event; for a pool, the first target replayed), or a
number: **seconds after the trace's first row**. Naive date-times are refused: a trace's clock is UTC
unless its timestamps say otherwise, and guessing would shift a fault by hours.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from forecastscale.config.base import _Model
from forecastscale.config.events import MAX_EVENT_S, MAX_FLOOR_REPLICAS, MAX_MULTIPLIER, MAX_REASON_CHARS
from forecastscale.config.leadtimes import StartupDraws
from forecastscale.edge import epoch

_EXAMPLE = "e.g. 2015-01-01T00:00:00Z, or seconds after the trace's first row such as 86400"


MAX_OFFSET_S = 20 * 366 * 86400  # a start in seconds lies within twenty years of the trace's first row


def _when(value: Any) -> float | datetime:
    """A ``start``: seconds after the trace's first row (a number >= 0), or an aware ISO-8601 date-time."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or not 0 <= value <= MAX_OFFSET_S:
            raise ValueError(f"seconds after the trace's first row must be finite, within [0, {MAX_OFFSET_S}]")
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip()[:64])  # no real date-time is longer
        except ValueError:
            raise ValueError(f"not an ISO-8601 date-time, {_EXAMPLE}") from None
    if not isinstance(value, datetime):
        raise ValueError(f"must be an ISO-8601 date-time with a zone or a number of seconds, {_EXAMPLE}")
    return _aware(value)


def _aware(value: datetime) -> datetime:
    """``value`` if it has a zone and lies between 1990 and 2200 (as every stored time must)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"needs a zone offset (Z or +hh:mm), {_EXAMPLE}")
    try:
        epoch("start", value.timestamp())
    except (ValueError, OverflowError) as exc:
        raise ValueError(str(exc).removeprefix("start: ")) from None
    return value


When = Annotated[float | datetime, BeforeValidator(_when)]


def _exactly_one(what: tuple[str, str], values: tuple[object, object]) -> None:
    if (values[0] is None) == (values[1] is None):
        got = "neither" if values[0] is None else f"both ({values[0]} and {values[1]})"
        raise ValueError(f"set exactly one of {what[0]} or {what[1]}, got {got}")


class BacktestEvent(_Model):
    """An announced event replayed: ``target`` floored at ``min_replicas`` or ``multiplier`` × its own
    recommendation from ``start`` for ``duration_s`` (the bounds of ``POST /v1/events``)."""

    target: str = Field(min_length=1, max_length=253, description="a configured target name")
    start: When = Field(description="ISO-8601 with a zone, or seconds after the trace's first row")
    duration_s: float = Field(gt=0, le=MAX_EVENT_S)
    min_replicas: int | None = Field(default=None, ge=0, le=MAX_FLOOR_REPLICAS)
    multiplier: float | None = Field(default=None, gt=0, le=MAX_MULTIPLIER)
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS, description="why; shown in decisions")

    @model_validator(mode="after")
    def _one_floor(self) -> BacktestEvent:
        _exactly_one(("min_replicas", "multiplier"), (self.min_replicas, self.multiplier))
        return self


class HealthFault(_Model):
    """From ``start`` for ``duration_s``, ``gpus`` GPUs (one per node, round robin) or ``nodes`` whole nodes of
    ``pool``'s Ready nodes, oldest first, are unusable; their pods are evicted (see the backtest simulator)."""

    pool: str = Field(min_length=1, description="a configured node pool")
    start: When = Field(description="ISO-8601 with a zone, or seconds after the trace's first row")
    duration_s: float = Field(gt=0)
    gpus: int | None = Field(default=None, gt=0)
    nodes: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_size(self) -> HealthFault:
        _exactly_one(("gpus", "nodes"), (self.gpus, self.nodes))
        return self


class Stockout(_Model):
    """From ``start`` for ``duration_s`` the cloud has no nodes for ``pool``: a node asked for then starts
    booting when the stockout ends (Ready ``node_startup_s`` later); nodes already booting arrive as usual."""

    pool: str = Field(min_length=1, description="a configured node pool")
    start: When = Field(description="ISO-8601 with a zone, or seconds after the trace's first row")
    duration_s: float = Field(gt=0)


class RegimeChange(_Model):
    """A synthetic regime change applied to a real trace in code (the CSV is never edited): from ``at`` on, the
    demand replayed at time ``t`` is the trace's at ``t − shift_s``, × ``scale``. A ``shift_s`` of 12 hours
    moves the daily cycle half a day (a service that starts serving the other side of the world); ``scale``
    is a level shift (a new tenant). Used to show the forecast guardrail on a change the model never saw."""

    at: When = Field(description="ISO-8601 with a zone, or seconds after the trace's first row")
    shift_s: float = Field(default=0.0, ge=0, le=30 * 86400, description="seconds the trace is delayed from at on")
    scale: float = Field(default=1.0, gt=0, le=1000, description="demand × this from at on")


class BacktestSettings(_Model):
    """How a trace is replayed, and the events, faults and stockouts replayed with it."""

    decision_interval_s: float = Field(default=60, ge=1, description="one decision per step")
    warmup_s: float | None = Field(
        default=None, ge=0, description="training-only span; default min(2 days, 20 % of trace)"
    )
    events: tuple[BacktestEvent, ...] = Field(default=(), description="announced (webhook) events replayed")
    health_faults: tuple[HealthFault, ...] = Field(default=(), description="GPUs or nodes lost for a while")
    stockouts: tuple[Stockout, ...] = Field(default=(), description="spans when a pool's nodes do not arrive")
    startup: StartupDraws | None = Field(default=None, description="pod and node start-up times drawn per event "
                                         "(log-normal p50/p90, seeded, optionally drifting); unset: the constants")

    def references(self, targets: list[str], pools: list[str]) -> list[str]:
        """One line per event naming an unknown target and per fault or stockout naming an unknown pool."""
        problems = [f"backtest.events[{i}].target: unknown target {e.target!r}; have {targets}"
                    for i, e in enumerate(self.events) if e.target not in targets]
        for kind, used in (("health_faults", [f.pool for f in self.health_faults]),
                           ("stockouts", [s.pool for s in self.stockouts])):
            problems += [f"backtest.{kind}[{i}].pool: unknown pool {pool!r}; have {pools}"
                         for i, pool in enumerate(used) if pool not in pools]
        return problems
