"""Event and burst settings are validated at load, with messages naming the field and the value."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from forecastscale.config import format_validation_error
from forecastscale.config.events import BurstSettings, CronEvent, EventRequest
from forecastscale.cron import canonical


def problems(model: type[Any], data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return format_validation_error(info.value)


CRON = {"name": "open", "schedule": "0 9 * * 1-5", "timezone": "America/New_York", "duration_s": 3600,
        "min_replicas": 4}


def test_a_good_cron_event_loads() -> None:
    event = CronEvent.model_validate(CRON)
    assert (event.schedule, event.timezone, event.min_replicas, event.multiplier) == (
        "0 9 * * 1-5", "America/New_York", 4, None)
    assert CronEvent.model_validate({**CRON, "timezone": "UTC"}).timezone == "UTC"
    assert CronEvent(name="x", schedule="0 9 * * *", duration_s=1, multiplier=1.5).timezone == "UTC"


@pytest.mark.parametrize(("patch", "expected"), [
    ({"schedule": "0 9 * *"}, "schedule: bad cron expression: need 5 fields (minute hour day-of-month month "
                              "day-of-week), found 4, got '0 9 * *'"),
    ({"schedule": "61 9 * * *"}, "schedule: bad cron expression: Error validating expression '61': the last value "
                                 "(61) is higher than the maximum value (59), got '61 9 * * *'"),
    ({"schedule": "0 9 * * 8"}, "schedule: bad cron expression: day-of-week '8' is not 0-7 or sun-sat, "
                                "got '0 9 * * 8'"),
    ({"schedule": "0 9 * * fri-mon"}, "schedule: bad cron expression: day-of-week range 'fri-mon' runs backwards, "
                                      "got '0 9 * * fri-mon'"),
    ({"schedule": "0 9 1 * 1"}, "schedule: bad cron expression: restricts both day-of-month and day-of-week "
                                "(crontab fires on either); set one to *, got '0 9 1 * 1'"),
    ({"schedule": "0 0 31 2 *"}, "schedule: bad cron expression: never fires, got '0 0 31 2 *'"),
    ({"schedule": "0 9 * * 1#2"}, "schedule: bad cron expression: day-of-week item '1#2' is not N, N-M, */S or "
                                  "N-M/S, got '0 9 * * 1#2'"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone: unknown IANA time zone (e.g. UTC, Europe/Berlin, "
                                        "America/New_York), got 'Mars/Olympus_Mons'"),
    ({"timezone": "EST5EDT/../../etc"}, "timezone: unknown IANA time zone (e.g. UTC, Europe/Berlin, "
                                        "America/New_York), got 'EST5EDT/../../etc'"),
    ({"duration_s": 0}, "duration_s: must be > 0, got 0"),
    ({"min_replicas": -1}, "min_replicas: must be >= 0, got -1"),
    ({"multiplier": 2}, "set exactly one of min_replicas or multiplier, got both (4 and 2)"),
    ({"min_replicas": None}, "set exactly one of min_replicas or multiplier, got neither"),
    ({"when": "always"}, "when: unknown field, got 'always'"),
], ids=["four-fields", "minute-61", "weekday-8", "backwards-range", "dom-and-dow", "never", "nth-weekday",
        "unknown-zone", "path-zone", "zero-duration", "negative-min", "both-floors", "no-floor", "extra-field"])
def test_bad_cron_events_name_field_and_value(patch: dict[str, Any], expected: str) -> None:
    assert problems(CronEvent, {**CRON, **patch}) == [expected]


def test_the_error_is_a_value_error_naming_the_value() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        CronEvent.model_validate({**CRON, "timezone": "Mars/Olympus"})


@pytest.mark.parametrize(("expr", "expected"), [
    ("0 9 * * 1-5", "0 9 * * mon,tue,wed,thu,fri"),
    ("*/15 8-18 * * 0,6", "*/15 8-18 * * sun,sat"),
    ("0 9 * * */2", "0 9 * * sun,tue,thu,sat"),
    ("0 9 * * 1-5/2", "0 9 * * mon,wed,fri"),
    ("0   9 1 * *", "0 9 1 * *"),
], ids=["weekdays", "weekend", "every-second-day", "range-step", "spaces"])
def test_weekdays_are_translated_to_names_for_the_calculator(expr: str, expected: str) -> None:
    assert canonical(expr) == expected


REQUEST = {"target": "llm", "start": "2026-03-09T09:00:00-04:00", "duration_s": 600, "multiplier": 2,
           "reason": "launch"}


@pytest.mark.parametrize(("patch", "expected"), [
    ({"start": "2026-03-09T09:00:00"}, "start: needs a zone offset (Z or +hh:mm), e.g. 2026-03-09T09:00:00-04:00 "
                                       "or 2026-03-09T13:00:00Z, got '2026-03-09T09:00:00'"),
    ({"start": "next monday"}, "start: not an ISO-8601 date-time, e.g. 2026-03-09T09:00:00-04:00 or "
                               "2026-03-09T13:00:00Z, got 'next monday'"),
    ({"start": 1773061200}, "start: must be an ISO-8601 date-time with a zone, e.g. 2026-03-09T09:00:00-04:00 or "
                            "2026-03-09T13:00:00Z, got 1773061200"),
    ({"duration_s": -5}, "duration_s: must be > 0, got -5"),
    ({"duration_s": float("inf")}, "duration_s: Input should be a finite number, got inf"),
    ({"multiplier": 0}, "multiplier: must be > 0, got 0"),
    ({"min_replicas": 3}, "set exactly one of min_replicas or multiplier, got both (3 and 2)"),
    ({"reason": ""}, "reason: String should have at least 1 character, got ''"),
    ({"target": ""}, "target: String should have at least 1 character, got ''"),
], ids=["naive-start", "prose-start", "number-start", "negative-duration", "infinite-duration", "zero-multiplier",
        "both-floors", "empty-reason", "empty-target"])
def test_bad_event_requests_name_field_and_value(patch: dict[str, Any], expected: str) -> None:
    assert problems(EventRequest, {**REQUEST, **patch}) == [expected]


def test_event_request_start_keeps_its_zone_and_may_be_omitted() -> None:
    req = EventRequest.model_validate(REQUEST)
    assert req.start is not None and req.start.timestamp() == 1773061200  # 13:00 UTC
    assert EventRequest.model_validate({k: v for k, v in REQUEST.items() if k != "start"}).start is None


@pytest.mark.parametrize(("patch", "expected"), [
    ({"factor": 1}, "factor: must be > 1, got 1"),
    ({"window_s": -1}, "window_s: must be >= 0, got -1"),
    ({"hold_s": -1}, "hold_s: must be >= 0, got -1"),
], ids=["factor-one", "negative-window", "negative-hold"])
def test_bad_burst_settings(patch: dict[str, Any], expected: str) -> None:
    assert problems(BurstSettings, patch) == [expected]


def test_burst_defaults() -> None:
    assert BurstSettings() == BurstSettings(enabled=False, factor=1.5, window_s=60, hold_s=300)
