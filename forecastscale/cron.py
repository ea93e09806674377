"""Standard crontab schedules read in an IANA time zone: validation and occurrences, no scheduler.

A schedule is ``minute hour day-of-month month day-of-week``. Each field is a comma list of ``*``,
``*/S``, ``N``, ``N-M``, ``N/S`` (N, N+S, … to the field's end) or ``N-M/S``; minute 0–59, hour 0–23,
day-of-month 1–31 or ``last``, month 1–12 or ``jan``–``dec``, day-of-week 0–7 (0 and 7 = Sunday) or
``sun``–``sat`` (day-of-week takes no ``N/S``). A schedule restricting both day-of-month and
day-of-week is rejected: crontab fires when *either* matches, which surprises more people than it
helps. Out-of-range values, steps longer than their range and backward ranges are errors.

cronsim is the calculator. It is run on wall-clock time (naive datetimes, no DST), and each matching
wall-clock time becomes every instant at which the zone's clocks show it (:func:`_instants`): a time
skipped by a spring-forward fires just after the gap, as far past its start as it was meant to be
(02:30 → 03:30); one repeated by a fall-back fires on both passes. cronsim's own zone handling is not
used: it follows Debian cron, which fires a skipped time at the end of the gap (02:30 → 03:00) and a
repeated one once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import takewhile
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

DAY_S = 86400.0
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering: index = weekday number
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_ITEM = re.compile(r"(?:(?P<star>\*)|(?P<first>[0-9]+|[a-z]+)(?:-(?P<last>[0-9]+|[a-z]+))?)(?:/(?P<step>[0-9]+))?",
                   re.IGNORECASE)
_NEVER_REFERENCE = datetime(2000, 1, 1)  # cronsim gives up after 50 years without a match: leap days fire


@dataclass(frozen=True)
class _Field:
    """One crontab field: its name, values ``lo``–``hi``, and names for ``lo``, ``lo + 1``, … if any."""

    name: str
    lo: int
    hi: int
    names: tuple[str, ...] = ()

    def value(self, token: str) -> int:
        """``token`` (a number or a name) as a number; ValueError naming the field if it is neither."""
        if token.isdigit():
            return int(token)
        if token.lower() in self.names:
            return self.lo + self.names.index(token.lower())
        raise ValueError(f"{self.name} {token!r} is not a number" + (" or a name" if self.names else ""))


FIELDS = (_Field("minute", 0, 59), _Field("hour", 0, 23), _Field("day-of-month", 1, 31),
          _Field("month", 1, 12, _MONTH_NAMES), _Field("day-of-week", 0, 7, _DAY_NAMES))
FIELD_NAMES = tuple(f.name for f in FIELDS)


def _range_error(item: str, why: str) -> ValueError:
    return ValueError(f"Error validating expression {item!r}: {why}")


def _check_bounds(field: _Field, item: str, first: int, last: int | None, step: int | None) -> None:
    """Values within the field, ascending, and a step no longer than the range it steps over."""
    if first < field.lo:
        raise _range_error(item, f"the first value ({first}) is lower than the minimum value ({field.lo})")
    for value, which in ((last, "last"), (first, "first")):
        if value is not None and value > field.hi:
            raise _range_error(item, f"the {which} value ({value}) is higher than the maximum value ({field.hi})")
    if last is not None and last < first:
        raise ValueError(f"{field.name} range {item!r} runs backwards")
    span = (field.hi if last is None else last) - first
    if step is not None and step > span:
        raise _range_error(item, f"the step value ({step}) is higher than the total range of the expression ({span})")


def _check_item(field: _Field, item: str) -> None:
    """Raise ValueError saying what is wrong with ``item`` of ``field`` (not day-of-week)."""
    if field.name == "day-of-month" and item.lower() == "last":  # the month's last day
        return
    m = _ITEM.fullmatch(item)
    if m is None:
        raise ValueError(f"{field.name} item {item!r} is not N, N-M, */S, N/S or N-M/S")
    step = int(m["step"]) if m["step"] else None
    if step == 0:
        raise ValueError(f"{field.name} step must be >= 1 in {item!r}")
    if m["star"]:
        _check_bounds(field, item, field.lo, field.hi, step)
        return
    first = field.value(m["first"])
    last = field.value(m["last"]) if m["last"] else (first if step is None else None)
    _check_bounds(field, item, first, last, step)


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
        m = _ITEM.fullmatch(item)
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


@lru_cache(maxsize=256)
def canonical(expr: str) -> str:
    """``expr`` checked and spelt for cronsim: single spaces, weekdays as names (one list, in order),
    ``last`` as ``L``. Raises ValueError saying what is wrong."""
    fields = expr.split()
    if len(fields) != len(FIELDS):
        raise ValueError(f"need 5 fields ({' '.join(FIELD_NAMES)}), found {len(fields)}")
    if fields[2] != "*" and fields[4] != "*":
        raise ValueError("restricts both day-of-month and day-of-week (crontab fires on either); set one to *")
    minute, hour, day, month, weekday = fields
    for field, text in zip(FIELDS, (minute, hour, day, month), strict=False):  # day-of-week: _weekdays
        for item in text.split(","):
            _check_item(field, item)
    day = ",".join("L" if item.lower() == "last" else item for item in day.split(","))  # cronsim's spelling
    weekday = weekday if weekday == "*" else ",".join(_DAY_NAMES[d] for d in _weekdays(weekday))
    return " ".join((minute, hour, day, month, weekday))


def fires(expr: str) -> bool:
    """Whether the checked schedule ``expr`` ever fires (``0 0 31 2 *`` never does)."""
    try:
        next(CronSim(canonical(expr), _NEVER_REFERENCE))
    except (CronSimError, StopIteration):  # after canonical(), cronsim refuses only day-month pairs that never meet
        return False
    return True


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValueError if there is none such."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError("unknown IANA time zone (e.g. UTC, Europe/Berlin, America/New_York)") from exc


def _wall(t: float, tz: ZoneInfo) -> datetime:
    """The zone's wall-clock time at UNIX second ``t`` (naive)."""
    return datetime.fromtimestamp(t, tz).replace(tzinfo=None)


def _margin(tz: ZoneInfo, start_s: float, end_s: float) -> timedelta:
    """How far outside ``[wall(start_s), wall(end_s)]`` a wall time whose instant lies inside may be:
    the largest change of UTC offset within a day of either end (0 where the zone keeps one offset)."""
    offsets = [datetime.fromtimestamp(t + d, tz).utcoffset() or timedelta(0)
               for t in (start_s, end_s) for d in (-DAY_S, 0.0, DAY_S)]
    return max(offsets) - min(offsets)


def _instants(wall: datetime, tz: ZoneInfo) -> tuple[float, ...]:
    """UNIX seconds at which the clocks of ``tz`` show ``wall``: two in a fall-back's repeated hour; in a
    spring-forward's gap, the instant as far past the gap's start as ``wall`` is (02:30 → 03:30)."""
    early = wall.replace(tzinfo=tz, fold=0).timestamp()
    late = wall.replace(tzinfo=tz, fold=1).timestamp()
    # PEP 495: in a repeated hour fold=1 is the second pass. In a gap fold=0 reads ``wall`` with the offset from
    # before the gap (02:30 EST = 03:30 EDT), fold=1 with the one after, which lands before the gap: not used.
    return (early, late) if late > early else (early,)


def _walls(expr: str, first: datetime, last: datetime) -> Iterator[datetime]:
    """The wall-clock times in ``[first, last]`` (whole seconds) that ``expr`` matches, in order."""
    after = first.replace(microsecond=0) - timedelta(seconds=1)  # cronsim yields strictly after its start
    return takewhile(lambda wall: wall <= last, CronSim(canonical(expr), after))


def occurrences(expr: str, timezone: str, start_s: float, end_s: float) -> list[float]:
    """UNIX seconds of every occurrence of ``expr`` in ``[start_s, end_s)``, read in ``timezone``, ascending."""
    tz = zone(timezone)
    margin = _margin(tz, start_s, end_s)
    found: set[float] = set()  # a gap's shifted times can coincide with real ones (hourly: 02:00 and 03:00)
    for wall in _walls(expr, _wall(start_s, tz) - margin, _wall(end_s, tz) + margin):
        found.update(t for t in _instants(wall, tz) if start_s <= t < end_s)
    return sorted(found)

