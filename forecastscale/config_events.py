"""Scheduled and announced demand events, and the burst (panic) detector's settings.

* :class:`CronEvent` — a recurring event from the config file: a 5-field crontab ``schedule`` read in
  the IANA ``timezone`` (so ``0 9 * * 1-5`` in ``America/New_York`` stays 09:00 local across DST),
  lasting ``duration_s``, during which the target's replicas are floored at ``min_replicas`` or at
  ``multiplier`` × the policy's own recommendation.
* :class:`EventRequest` — the body of ``POST /v1/events``: a one-off event announced by a person or a
  pipeline (a launch, a batch job, a marketing mail).
* :class:`BurstSettings` — when observed demand runs far above the forecast's upper quantile, switch to
  a reactive "panic" mode for a while (Knative's panic window, judged against the forecast).

Cron expressions are standard crontab (``minute hour day-of-month month day-of-week``, weekday 0 or 7 =
Sunday, names ``sun``–``sat``/``jan``–``dec`` allowed). APScheduler is the calculator; its own weekday
numbering (0 = Monday) is translated away here, so ``1-5`` means Monday to Friday as in crontab. A schedule
restricting both day-of-month and day-of-week is rejected: crontab fires when *either* matches,
APScheduler when *both* do, and silently picking one would surprise someone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import AwareDatetime, Field, field_validator, model_validator

from forecastscale.config_base import _Model
from forecastscale.edge import epoch

CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
# Bounds of an event, announced or scheduled: beyond them a value is a mistake or an attack (a multiplier of
# 1e308 overflowed every tick; an end after year 9999 broke every listing). Far above any real event.
MAX_EVENT_S = 90 * 86400  # one event lasts at most 90 days
MAX_EVENT_AHEAD_S = 366 * 86400  # an announced event starts at most a year ahead
MAX_MULTIPLIER = 100.0  # floor = recommendation × at most 100
MAX_FLOOR_REPLICAS = 100_000  # min_replicas at most this (bounds then cap it at the target's max_replicas)
MAX_REASON_CHARS = 1000
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering: index = weekday number
_DOW_ITEM = re.compile(r"^(?:(?P<star>\*)|(?P<first>\w+)(?:-(?P<last>\w+))?)(?:/(?P<step>\d+))?$")
_NEVER_REFERENCE = datetime(2000, 1, 1, tzinfo=UTC)


def _weekday(token: str) -> int:
    """A crontab weekday as written: ``0``–``7`` (0 and 7 = Sunday) or ``sun``–``sat`` (0–6)."""
    low = token.lower()
    if low in _DAY_NAMES:
        return _DAY_NAMES.index(low)
    if low.isdigit() and 0 <= int(low) <= 7:
        return int(low)
    raise ValueError(f"day-of-week {token!r} is not 0-7 or sun-sat")


def _weekdays(field: str) -> list[int]:
    """The weekdays (0 = Sunday … 6 = Saturday) a crontab day-of-week field selects, in order."""
    days: set[int] = set()
    for item in field.split(","):
        m = _DOW_ITEM.match(item)
        if m is None:
            raise ValueError(f"day-of-week item {item!r} is not N, N-M, */S or N-M/S")
        step = int(m["step"]) if m["step"] else 1
        if step < 1:
            raise ValueError(f"day-of-week step must be >= 1 in {item!r}")
        if m["star"]:
            first, last = 0, 6
        else:
            if m["step"] and not m["last"]:
                raise ValueError(f"day-of-week item {item!r}: a step needs a range (N-M/S) or *")
            # 7 stays 7 inside a range, so "5-7" (Friday to Sunday) is ascending as crontab reads it.
            first = _weekday(m["first"])
            last = _weekday(m["last"]) if m["last"] else first
            if last < first:
                raise ValueError(f"day-of-week range {item!r} runs backwards")
        days.update(d % 7 for d in range(first, last + 1, step))
    return sorted(days)


def apscheduler_crontab(expr: str) -> str:
    """``expr`` (standard crontab) rewritten for ``CronTrigger.from_crontab``: weekdays become names,
    since APScheduler 3 numbers them from Monday. Raises ValueError saying what is wrong."""
    fields = expr.split()
    if len(fields) != len(CRON_FIELDS):
        raise ValueError(f"need 5 fields ({' '.join(CRON_FIELDS)}), found {len(fields)}")
    if fields[2] != "*" and fields[4] != "*":
        raise ValueError("restricts both day-of-month and day-of-week (crontab fires on either); set one to *")
    if fields[4] != "*":
        fields[4] = ",".join(_DAY_NAMES[d] for d in _weekdays(fields[4]))
    return " ".join(fields)


@lru_cache(maxsize=256)
def cron_trigger(expr: str, timezone: str) -> CronTrigger:
    """The APScheduler trigger for crontab ``expr`` in ``timezone`` (cached; triggers are stateless)."""
    try:
        return CronTrigger.from_crontab(apscheduler_crontab(expr), timezone=ZoneInfo(timezone))
    except ValueError as exc:
        raise ValueError(f"bad cron expression: {exc}") from exc


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValueError if there is none such."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError("unknown IANA time zone (e.g. UTC, Europe/Berlin, America/New_York)") from exc


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
    The floor starts the target's ``pod_startup_s`` early so the pods are Ready at the occurrence."""

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
        trigger = cron_trigger(value, "UTC")
        if trigger.get_next_fire_time(None, _NEVER_REFERENCE) is None:
            raise ValueError("bad cron expression: never fires")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        zone(value)
        return value

    @model_validator(mode="after")
    def _one_floor(self) -> CronEvent:
        _exactly_one_floor(self.min_replicas, self.multiplier)
        return self

    def occurrences(self, start_s: float, end_s: float) -> list[float]:
        """UNIX seconds of every occurrence in ``[start_s, end_s)``, computed in ``timezone``.

        DST: a wall-clock time skipped by a spring-forward fires just after the gap (02:30 → 03:30);
        one repeated by a fall-back fires on both passes (the windows overlap; floors take the max)."""
        trigger = cron_trigger(self.schedule, self.timezone)
        out: list[float] = []
        previous: datetime | None = None
        now = datetime.fromtimestamp(start_s, tz=UTC)
        while (fire := trigger.get_next_fire_time(previous, now)) is not None and fire.timestamp() < end_s:
            out.append(fire.timestamp())
            previous = now = fire
        return out


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
