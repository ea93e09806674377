"""forecastscale.cron: the crontab grammar it accepts, and occurrences across DST against a minute-by-minute scan."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim

from forecastscale import cron

HOUR = 3600.0


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0, tz: str = "UTC", fold: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz), fold=fold).timestamp()


def local(times: list[float], tz: str) -> list[str]:
    return [datetime.fromtimestamp(t, ZoneInfo(tz)).strftime("%m-%d %H:%M%z") for t in times]


@pytest.mark.parametrize(("expr", "expected"), [
    ("0 12 last * *", "0 12 L * *"),
    ("0 12 1,LAST * *", "0 12 1,L * *"),
    ("0 9 * JAN-mar *", "0 9 * JAN-mar *"),
    ("5/20 * * * *", "5/20 * * * *"),
    ("*/59 */23 */30 */11 *", "*/59 */23 */30 */11 *"),
], ids=["last-day", "last-in-list", "month-names", "start-step", "longest-steps"])
def test_accepted_schedules_are_spelt_for_cronsim(expr: str, expected: str) -> None:
    assert cron.canonical(expr) == expected


@pytest.mark.parametrize(("expr", "message"), [
    ("0 9 L * *", "day-of-month 'L' is not a number"),
    ("0 9 15W * *", "day-of-month item '15W' is not N, N-M, */S, N/S or N-M/S"),
    ("0 9 * * 5L", "day-of-week item '5L' is not N, N-M, */S or N-M/S"),
    ("0 0 0 * *", "Error validating expression '0': the first value (0) is lower than the minimum value (1)"),
    ("0 24 * * *", "Error validating expression '24': the last value (24) is higher than the maximum value (23)"),
    ("70/5 * * * *", "Error validating expression '70/5': the first value (70) is higher than the maximum value (59)"),
    ("*/60 * * * *", "Error validating expression '*/60': the step value (60) is higher than the total range of "
                     "the expression (59)"),
    ("0-30/31 * * * *", "Error validating expression '0-30/31': the step value (31) is higher than the total range "
                        "of the expression (30)"),
    ("*/0 * * * *", "minute step must be >= 1 in '*/0'"),
    ("30-10 * * * *", "minute range '30-10' runs backwards"),
    ("0 9 * foo *", "month 'foo' is not a number or a name"),
    ("0 0 * * * *", "need 5 fields (minute hour day-of-month month day-of-week), found 6"),
], ids=["cronsim-L", "cronsim-W", "cronsim-last-weekday", "day-zero", "hour-24", "start-beyond", "step-too-long",
        "range-step-too-long", "zero-step", "backwards", "bad-month-name", "six-fields"])
def test_what_is_not_standard_crontab_is_refused(expr: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        cron.canonical(expr)
    assert str(info.value) == message


@pytest.mark.parametrize(("expr", "fires"), [
    ("0 0 29 2 *", True), ("0 0 30 2 *", False), ("0 0 31 4,6 *", False), ("0 0 31 4,7 *", True),
    ("0 0 last 2 *", True),
])
def test_never_firing_schedules_are_recognised(expr: str, fires: bool) -> None:
    assert cron.fires(expr) is fires


def test_daily_midnight_fires_every_day_across_spring_forward() -> None:
    # APScheduler 3, the calculator before, skipped Monday 2026-03-09 00:00 in New York (the day after the change).
    got = cron.occurrences("0 0 * * *", "America/New_York", ts(2026, 3, 6, 12), ts(2026, 3, 11, 12))
    assert local(got, "America/New_York") == ["03-07 00:00-0500", "03-08 00:00-0500", "03-09 00:00-0400",
                                              "03-10 00:00-0400", "03-11 00:00-0400"]


def test_hourly_fires_once_per_real_hour_across_both_changes() -> None:
    tz = "America/New_York"
    spring = cron.occurrences("0 * * * *", tz, ts(2026, 3, 8, 0, tz=tz), ts(2026, 3, 8, 5, tz=tz))
    assert spring == [ts(2026, 3, 8, 0, tz=tz) + k * HOUR for k in range(4)]  # 02:00 is 03:00: once, not twice
    fall = cron.occurrences("0 * * * *", tz, ts(2026, 11, 1, 0, tz=tz), ts(2026, 11, 1, 3, tz=tz))
    assert fall == [ts(2026, 11, 1, 0, tz=tz) + k * HOUR for k in range(4)]  # 01:00 on both passes


def test_a_span_starting_inside_the_shift_still_sees_the_skipped_time() -> None:
    # 02:30 does not exist on 2026-03-08 in New York; it fires at 03:30 EDT, after a span starting at 03:10 EDT.
    got = cron.occurrences("30 2 * * *", "America/New_York", ts(2026, 3, 8, 7, 10), ts(2026, 3, 8, 8))
    assert got == [ts(2026, 3, 8, 7, 30)]


def scan(expr: str, tz: str, start_s: float, end_s: float) -> list[float]:
    """The promise, checked by brute force: every whole minute whose wall clock matches, and every matching
    wall-clock minute that the zone skips, at that minute read with the offset from before the gap."""
    zone, spec = ZoneInfo(tz), cron.canonical(expr)

    def matches(wall: datetime) -> bool:
        return next(CronSim(spec, wall - timedelta(seconds=1))) == wall

    found = set()
    for minute in range(int(start_s // 60), int(end_s // 60) + 1):  # every real minute
        t = minute * 60.0
        if start_s <= t < end_s and matches(datetime.fromtimestamp(t, zone).replace(tzinfo=None)):
            found.add(t)
    wall = datetime.fromtimestamp(start_s, zone).replace(tzinfo=None, second=0, microsecond=0) - timedelta(hours=2)
    while wall <= datetime.fromtimestamp(end_s, zone).replace(tzinfo=None) + timedelta(hours=2):  # every wall minute
        early, late = (wall.replace(tzinfo=zone, fold=f).timestamp() for f in (0, 1))
        if late < early and start_s <= early < end_s and matches(wall):  # a minute the clocks skip
            found.add(early)
        wall += timedelta(minutes=1)
    return sorted(found)


@pytest.mark.parametrize("expr", ["30 2 * * *", "30 1 * * *", "*/20 * * * *", "0 */2 * * *", "45 0-3 * * 0"])
@pytest.mark.parametrize(("tz", "change"), [
    ("America/New_York", (2026, 3, 8, 7, 0)), ("America/New_York", (2026, 11, 1, 6, 0)),
    ("Europe/Berlin", (2026, 3, 29, 1, 0)), ("Europe/Berlin", (2026, 10, 25, 1, 0)),
    ("Australia/Lord_Howe", (2026, 4, 4, 15, 0)), ("Australia/Lord_Howe", (2026, 10, 3, 15, 30)),  # 30-minute DST
])
def test_occurrences_match_a_minute_by_minute_scan_around_dst(expr: str, tz: str,
                                                              change: tuple[int, int, int, int, int]) -> None:
    at = ts(*change)  # the change, in UTC
    for start_s, end_s in ((at - 3 * HOUR, at + 3 * HOUR), (at - 0.5, at + 0.5 * HOUR), (at + 5, at + 2 * HOUR)):
        assert cron.occurrences(expr, tz, start_s, end_s) == scan(expr, tz, start_s, end_s), (start_s, end_s)
