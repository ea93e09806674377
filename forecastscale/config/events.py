"""Scheduled and announced demand events, and the burst (panic) detector's settings.

* :class:`CronEvent` — a recurring event from the config file: a 5-field crontab ``schedule`` read in
  the IANA ``timezone`` (so ``0 9 * * 1-5`` in ``America/New_York`` stays 09:00 local across DST),
  lasting ``duration_s``, during which the target's replicas are floored at ``min_replicas`` or at
  ``multiplier`` × the policy's own recommendation.
* :class:`EventRequest` — the body of ``POST /v1/events``: a one-off event announced by a person or a
  pipeline (a launch, a batch job, a marketing mail).
* :class:`EventSettings` — a target's ``events:`` section (its cron events).
* :class:`BurstSettings` — a target's ``scaling.burst``: when observed demand runs far above the forecast's
  upper quantile, switch to a reactive "panic" mode for a while (Knative's panic window, judged against the
  forecast).

Cron expressions are standard crontab (``minute hour day-of-month month day-of-week``, weekday 0 or 7 =
Sunday, names ``sun``–``sat``/``jan``–``dec`` allowed), checked and evaluated by :mod:`forecastscale.cron`
(a calculator, not a scheduler). A schedule restricting both day-of-month and day-of-week is rejected:
crontab fires when *either* matches, and that surprises more people than it helps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, Field, field_validator, model_validator

from forecastscale import cron
from forecastscale.config.base import _Model
from forecastscale.edge import epoch

# Bounds of an event, announced or scheduled: beyond them a value is a mistake or an attack (a multiplier of
# 1e308 overflowed every tick; an end after year 9999 broke every listing). Far above any real event.
MAX_EVENT_S = 90 * 86400  # one event lasts at most 90 days
MAX_EVENT_AHEAD_S = 366 * 86400  # an announced event starts at most a year ahead
MAX_MULTIPLIER = 100.0  # floor = recommendation × at most 100
MAX_FLOOR_REPLICAS = 100_000  # min_replicas at most this (then capped at the target's scaling.max_replicas)
MAX_REASON_CHARS = 1000


def _exactly_one_floor(min_replicas: int | None, multiplier: float | None) -> None:
    if min_replicas is None and multiplier is None:
        raise ValueError("set exactly one of min_replicas or multiplier, got neither")
    if min_replicas is not None and multiplier is not None:
        raise ValueError(
            f"set exactly one of min_replicas or multiplier, got both ({min_replicas} and {multiplier:g})"
        )


class CronEvent(_Model):
    """A recurring event: from each ``schedule`` occurrence (local time in ``timezone``) for ``duration_s``,
    replicas are at least ``min_replicas``, or ``multiplier`` × the policy's recommendation (exactly one).
    The floor starts the target's ``workload.pod_startup_s`` early so the pods are Ready at the occurrence."""

    name: str = Field(min_length=1, description="names the event in decisions and logs")
    schedule: str = Field(description="5-field crontab, e.g. '0 9 * * 1-5' (weekdays 09:00)")
    timezone: str = Field(default="UTC", description="IANA zone the schedule is read in")
    duration_s: float = Field(gt=0, le=MAX_EVENT_S, allow_inf_nan=False, description="how long each occurrence lasts")
    min_replicas: int | None = Field(default=None, ge=0, le=MAX_FLOOR_REPLICAS,
                                     description="replicas floor during the event")
    multiplier: float | None = Field(
        default=None, gt=0, le=MAX_MULTIPLIER, allow_inf_nan=False,
        description="floor = recommendation × this during the event"
    )

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        value = " ".join(value.split())
        try:
            cron.canonical(value)
        except ValueError as exc:
            raise ValueError(f"bad cron expression: {exc}") from exc
        if not cron.fires(value):
            raise ValueError("bad cron expression: never fires")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        cron.zone(value)
        return value

    @model_validator(mode="after")
    def _one_floor(self) -> CronEvent:
        _exactly_one_floor(self.min_replicas, self.multiplier)
        return self

    def occurrences(self, start_s: float, end_s: float) -> list[float]:
        """UNIX seconds of every occurrence in ``[start_s, end_s)``, computed in ``timezone``.

        DST: a wall-clock time skipped by a spring-forward fires just after the gap (02:30 → 03:30);
        one repeated by a fall-back fires on both passes (the windows overlap; floors take the max)."""
        return cron.occurrences(self.schedule, self.timezone, start_s, end_s)


class EventRequest(_Model):
    """The body of ``POST /v1/events``: floor ``target`` from ``start`` (default now) for ``duration_s``."""

    target: str = Field(min_length=1, max_length=253, description="a configured target name")
    start: AwareDatetime | None = Field(
        default=None, description="ISO-8601 with a zone (e.g. 2026-03-09T09:00:00-04:00); omitted = now; at most "
        "a year ahead"
    )
    duration_s: float = Field(gt=0, le=MAX_EVENT_S, allow_inf_nan=False)
    min_replicas: int | None = Field(default=None, ge=0, le=MAX_FLOOR_REPLICAS)
    multiplier: float | None = Field(default=None, gt=0, le=MAX_MULTIPLIER, allow_inf_nan=False)
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS, description="why; shown in decisions and logs")

    @field_validator("start", mode="before")
    @classmethod
    def _iso_text(cls, value: Any) -> Any:
        if value is None or isinstance(value, datetime):
            return value
        example = "e.g. 2026-03-09T09:00:00-04:00 or 2026-03-09T13:00:00Z"
        if not isinstance(value, str):
            raise ValueError(f"must be an ISO-8601 date-time with a zone, {example}")
        try:
            parsed = datetime.fromisoformat(value[:64])  # no real date-time is longer
        except ValueError:
            raise ValueError(f"not an ISO-8601 date-time, {example}") from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise ValueError(f"needs a zone offset (Z or +hh:mm), {example}")
        try:
            epoch("start", parsed.timestamp())  # within the horizon every stored time must be in
        except (ValueError, OverflowError) as exc:
            raise ValueError(str(exc).removeprefix("start: ")) from None
        return parsed

    @model_validator(mode="after")
    def _one_floor(self) -> EventRequest:
        _exactly_one_floor(self.min_replicas, self.multiplier)
        return self


class BurstSettings(_Model):
    """Panic mode: observed demand above the forecast's upper quantile × ``factor`` for ``window_s``
    switches a target to reactive scaling (never below the predictive plan) until ``hold_s`` after the
    last excess sample."""

    enabled: bool = Field(default=False, description="off: forecasts alone decide (surprise still exported)")
    factor: float = Field(default=1.5, gt=1, allow_inf_nan=False, description="excess: observed > upper × this")
    window_s: float = Field(default=60, ge=0, allow_inf_nan=False, description="how long the excess must last")
    hold_s: float = Field(default=300, ge=0, allow_inf_nan=False, description="panic lasts this long after the "
                                                                               "last excess")


class EventSettings(_Model):
    """A target's ``events:`` section: replica floors it knows of in advance (announced ones arrive through
    ``POST /v1/events`` or ``backtest.events``)."""

    cron: tuple[CronEvent, ...] = Field(default=(), description="recurring events: replicas floors on a cron")
