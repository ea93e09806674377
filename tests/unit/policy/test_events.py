"""Event floors: cron windows in local time across DST, the webhook event book, and combining floors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from forecastscale.config.events import CronEvent, EventRequest
from forecastscale.policy.event_book import BookedEvent, EventBook, book_event
from forecastscale.policy.events import Window, cron_windows, floor

HOUR = 3600.0


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0, tz: str = "UTC") -> float:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz)).timestamp()


def cron(schedule: str = "0 9 * * 1-5", timezone: str = "UTC", duration_s: float = 2 * HOUR) -> CronEvent:
    return CronEvent(name="open", schedule=schedule, timezone=timezone, duration_s=duration_s, min_replicas=8)


# Friday before and Monday after each DST change; 09:00 local is this UTC hour on each day.
@pytest.mark.parametrize(("zone", "friday", "monday", "friday_utc_hour", "monday_utc_hour"), [
    ("America/New_York", (2026, 3, 6), (2026, 3, 9), 14, 13),      # EST → EDT on Sun 2026-03-08
    ("America/New_York", (2026, 10, 30), (2026, 11, 2), 13, 14),   # EDT → EST on Sun 2026-11-01
    ("Europe/Berlin", (2026, 3, 27), (2026, 3, 30), 8, 7),         # CET → CEST on Sun 2026-03-29
    ("Europe/Berlin", (2026, 10, 23), (2026, 10, 26), 7, 8),       # CEST → CET on Sun 2026-10-25
], ids=["us-spring-forward", "us-fall-back", "eu-spring-forward", "eu-fall-back"])
def test_weekday_9am_stays_9am_local_across_dst(zone: str, friday: tuple[int, int, int],
                                                monday: tuple[int, int, int], friday_utc_hour: int,
                                                monday_utc_hour: int) -> None:
    lead = 180.0
    event = cron("0 9 * * 1-5", zone, duration_s=2 * HOUR)
    windows = cron_windows(event, ts(*friday), ts(*monday) + 24 * HOUR, lead_s=lead)
    occurrences = [ts(*friday, friday_utc_hour), ts(*monday, monday_utc_hour)]  # no Saturday, no Sunday
    assert [w.start_s for w in windows] == [o - lead for o in occurrences]
    assert [w.end_s for w in windows] == [o + 2 * HOUR for o in occurrences]
    assert abs(windows[1].start_s - windows[0].start_s - 3 * 24 * HOUR) == HOUR  # the UTC instant moved 1 h
    for w in windows:  # local wall clock: pods Ready at 09:00 because the floor starts at 08:57
        assert datetime.fromtimestamp(w.start_s + lead, ZoneInfo(zone)).strftime("%a %H:%M") in (
            "Fri 09:00", "Mon 09:00")
        assert w.min_replicas == 8 and w.multiplier is None and w.source == "cron:open"


@pytest.mark.parametrize(("schedule", "days"), [
    ("0 9 * * 1-5", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
    ("0 9 * * 0", ["Sun"]),
    ("0 9 * * 7", ["Sun"]),
    ("0 9 * * 5-7", ["Fri", "Sat", "Sun"]),
    ("0 9 * * sat,SUN", ["Sat", "Sun"]),
    ("0 9 * * *", ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]),
], ids=["mon-fri", "zero-is-sunday", "seven-is-sunday", "range-to-seven", "names", "every-day"])
def test_weekdays_use_crontab_numbering_not_apschedulers(schedule: str, days: list[str]) -> None:
    # 2026-03-16 is a Monday.
    windows = cron_windows(cron(schedule), ts(2026, 3, 16), ts(2026, 3, 23))
    assert [datetime.fromtimestamp(w.start_s, UTC).strftime("%a") for w in windows] == days


@pytest.mark.parametrize(("span", "expected_occurrences"), [
    ((ts(2026, 3, 16, 10), ts(2026, 3, 16, 12)), [ts(2026, 3, 16, 9)]),        # still running at span start
    ((ts(2026, 3, 16, 11), ts(2026, 3, 16, 12)), []),                          # ended exactly at span start
    ((ts(2026, 3, 16, 8), ts(2026, 3, 16, 8, 58)), [ts(2026, 3, 16, 9)]),      # pre-warm starts inside span
    ((ts(2026, 3, 16, 8), ts(2026, 3, 16, 8, 57)), []),                        # pre-warm starts at span end
], ids=["running", "ended-at-start", "prewarm-inside", "prewarm-at-end"])
def test_windows_overlapping_the_span_include_lead_and_duration(span: tuple[float, float],
                                                                 expected_occurrences: list[float]) -> None:
    windows = cron_windows(cron(duration_s=2 * HOUR), *span, lead_s=180)
    assert [w.start_s + 180 for w in windows] == expected_occurrences


def test_spring_forward_gap_fires_after_the_gap_and_fall_back_fires_on_both_passes() -> None:
    gap = cron_windows(cron("30 2 * * *", "America/New_York"), ts(2026, 3, 8), ts(2026, 3, 8, 12))
    assert [w.start_s for w in gap] == [ts(2026, 3, 8, 7, 30)]  # 02:30 does not exist; 03:30 EDT = 07:30 UTC
    twice = cron_windows(cron("30 1 * * *", "America/New_York"), ts(2026, 11, 1), ts(2026, 11, 1, 12))
    assert [w.start_s for w in twice] == [ts(2026, 11, 1, 5, 30), ts(2026, 11, 1, 6, 30)]


def test_bad_span_and_lead_are_refused() -> None:
    with pytest.raises(ValueError, match="lead_s"):
        cron_windows(cron(), 0, 10, lead_s=-1)
    with pytest.raises(ValueError, match="before start_s"):
        cron_windows(cron(), 10, 0)


def win(min_replicas: int | None = None, multiplier: float | None = None, start: float = 0, end: float = 100,
        source: str = "x") -> Window:
    return Window(start, end, min_replicas, multiplier, source, f"reason {source}")


@pytest.mark.parametrize(("windows", "t", "base", "expected", "winner"), [
    ([], 50, 4, 0, None),
    ([win(min_replicas=6, source="a")], 50, 4, 6, "a"),
    ([win(multiplier=1.5, source="a")], 50, 3, 5, "a"),                                  # ceil(4.5)
    ([win(multiplier=1.1, source="a")], 50, 10, 11, "a"),                                 # 11.000000000000002
    ([win(min_replicas=6, source="a"), win(multiplier=2, source="b")], 50, 4, 8, "b"),    # 4 × 2 beats 6
    ([win(min_replicas=9, source="a"), win(multiplier=2, source="b")], 50, 4, 9, "a"),
    ([win(multiplier=1.5, source="a"), win(multiplier=3, source="b")], 50, 2, 6, "b"),   # base × max multiplier
    ([win(min_replicas=20, start=60, source="a"), win(min_replicas=5, source="b")], 50, 1, 5, "b"),  # not yet
    ([win(min_replicas=20, end=50, source="a")], 50, 1, 0, None),                         # end is exclusive
    ([win(min_replicas=20, start=50, source="a")], 50, 1, 20, "a"),                       # start is inclusive
    ([win(min_replicas=0, source="a")], 50, 3, 0, "a"),
], ids=["none", "min", "multiplier-ceil", "multiplier-float-noise", "multiplier-wins", "min-wins",
        "max-multiplier", "future-ignored", "end-exclusive", "start-inclusive", "zero-floor"])
def test_floor_is_the_highest_active_floor_naming_the_winner(windows: list[Window], t: float, base: int,
                                                             expected: int, winner: str | None) -> None:
    replicas, reason = floor(windows, t, base)
    assert replicas == expected
    if winner is None:
        assert reason is None
    else:
        assert reason is not None and f"event {winner}:" in reason and f"reason {winner}" in reason


def test_window_needs_exactly_one_floor() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Window(0, 1, 3, 2.0, "x", "r")
    with pytest.raises(ValueError, match="exactly one"):
        Window(0, 1, None, None, "x", "r")


NOW = ts(2026, 3, 9, 12)
T0 = ts(2026, 3, 1)  # stored events' times are offsets from here


def request(**overrides: object) -> EventRequest:
    body: dict[str, object] = {"target": "llm", "start": "2026-03-09T13:00:00Z", "duration_s": 3600,
                               "min_replicas": 10, "reason": "launch"}
    body.update(overrides)
    return EventRequest.model_validate({k: v for k, v in body.items() if v is not None})


def test_book_event_resolves_start_and_derives_a_stable_id() -> None:
    a, b = book_event(request(), NOW), book_event(request(), NOW + 60)
    assert a.id == b.id  # same announcement, same event
    assert a.start_s == ts(2026, 3, 9, 13) and a.end_s == ts(2026, 3, 9, 14) and a.created_s == NOW
    assert book_event(request(reason="other"), NOW).id != a.id
    assert book_event(request(), NOW, "my-id").id == "my-id"
    now_start = book_event(request(start=None), NOW)
    assert (now_start.start_s, now_start.end_s) == (NOW, NOW + 3600)


def test_book_event_refuses_an_event_already_over() -> None:
    with pytest.raises(ValueError, match=r"^start: the event ended"):
        book_event(request(start="2026-03-09T10:00:00Z"), NOW)


def event(event_id: str, target: str = "llm", start: float = 0, end: float = 100,
          multiplier: float | None = None, created: float = 0.0) -> BookedEvent:
    """A stored event flooring at 3 replicas, or at ``multiplier`` × base when given (times: seconds after T0)."""
    return BookedEvent(event_id, target, T0 + start, T0 + end, None if multiplier else 3, multiplier,
                       f"why {event_id}", T0 + created)


def _book(**overrides: object) -> str:
    """A format-1 event book of one event (a valid one before ``overrides``), as JSON text."""
    entry = {"id": "a", "target": "llm", "start_s": T0, "end_s": T0 + 60, "min_replicas": 1, "multiplier": None,
             "reason": "r", "created_s": T0, **overrides}
    return json.dumps({"format": 1, "events": [entry]})


def test_event_book_add_remove_expire() -> None:
    book = EventBook().add(event("b", start=50, end=200)).add(event("a", start=0, end=100))
    assert [e.id for e in book] == ["a", "b"] and len(book) == 2 and "a" in book
    assert EventBook().add(event("a")).add(event("a", end=300)).get("a") == event("a", end=300)  # same id replaces
    assert [e.id for e in book.remove("a", T0)] == ["b"] and [e.id for e in book] == ["a", "b"]  # immutable
    with pytest.raises(KeyError):
        book.remove("nope", T0)
    assert [e.id for e in book.expire(T0 + 100)] == ["b"]  # a ends at 100: over
    assert len(book.expire(T0 + 200)) == 0
    with pytest.raises(ValueError, match="duplicate"):
        EventBook((event("a"), event("a")))


def test_event_book_active_filters_target_and_prewarms() -> None:
    book = EventBook((event("a", start=100, end=200), event("b", target="other", start=0, end=500),
                      event("c", start=150, end=400, multiplier=2.0)))
    assert [w.source for w in book.active("llm", T0 + 120)] == ["webhook:a"]
    assert book.active("llm", T0 + 90) == []
    assert [w.source for w in book.active("llm", T0 + 90, lead_s=30)] == ["webhook:a"]
    assert [w.source for w in book.active("llm", T0 + 160)] == ["webhook:a", "webhook:c"]
    assert floor(book.active("llm", T0 + 160), T0 + 160, 4) == (8, "event webhook:c: 4 × 2 = 8 replicas (why c)")


def test_event_book_json_round_trip() -> None:
    book = EventBook((book_event(request(), NOW), book_event(request(multiplier=1.5, min_replicas=None), NOW),
                      event("x", start=0.1, end=86400 + 0.3))).remove("x", T0 + 5)
    text = book.to_json()
    assert EventBook.from_json(text) == book and book.deleted
    assert json.loads(text)["format"] == 2
    assert EventBook.from_json(EventBook().to_json()) == EventBook()
    old = json.dumps({"format": 1, "events": [e.to_dict() for e in book]})  # what earlier releases saved
    assert EventBook.from_json(old) == EventBook(book.events)


@pytest.mark.parametrize(("text", "match"), [
    ("{", "not valid JSON"),
    ('{"events": []}', "format"),
    ('{"format": 1, "events": [{"id": "a"}]}', "exactly the keys"),
    ('{"format": 1, "events": [{"id": "a", "target": "llm", "start_s": "x", "end_s": 2, "min_replicas": 1, '
     '"multiplier": null, "reason": "r", "created_s": 0}]}', "start_s: must be a number"),
    (_book(min_replicas=1, multiplier=2), "exactly one"),
    (_book(id="a/b"), "event id"),
    (_book(multiplier=1e308, min_replicas=None), r"multiplier: must be within \[0, 100\]"),
    (_book(end_s=253402300799.0), "end_s: must be a time between"),
    (_book(start_s=1.7e12), "looks like epoch milliseconds"),
    (_book(min_replicas=10**30), "min_replicas: must be within"),
    (_book(end_s=T0 + 400 * 86400), "end_s <= start_s"),
    (_book(start_s=float("nan")), "not a JSON number"),
    ('{"format": 2, "events": [], "deleted": [{"id": "a", "deleted_s": "x", "end_s": 1}]}', "must be a number"),
    ('{"format": 2, "events": ' + "[" * 200 + "]" * 200 + "}", "nested"),
], ids=["not-json", "no-format", "missing-keys", "bad-type", "two-floors", "bad-id", "huge-multiplier",
        "year-9999", "milliseconds", "huge-floor", "too-long", "nan", "bad-tombstone", "deep"])
def test_event_book_from_json_rejects_bad_input(text: str, match: str) -> None:  # the plan ConfigMap's events
    with pytest.raises(ValueError, match=match):
        EventBook.from_json(text)


def test_a_tombstone_wins_a_merge_against_an_older_copy_of_the_event_either_way() -> None:
    booked = EventBook().add(event("a", end=600, created=0))
    deleted = booked.remove("a", T0 + 10)
    assert "a" not in deleted.merge(booked) and "a" not in booked.merge(deleted)  # no resurrection
    assert deleted.merge(booked).deleted == deleted.deleted  # the tombstone travels on


def test_a_booking_newer_than_the_deletion_lives_and_clears_the_tombstone() -> None:
    deleted = EventBook().add(event("a", end=600)).remove("a", T0 + 10)
    again = deleted.add(event("a", end=600, created=20))  # announced again after the deletion
    assert "a" in again and not again.deleted
    assert "a" in again.merge(deleted) and "a" in deleted.merge(again)


def test_merging_keeps_the_events_of_both_books_and_expiry_drops_tombstones_with_their_event() -> None:
    a, b = EventBook().add(event("a", end=100)), EventBook().add(event("b", end=300))
    assert [e.id for e in a.merge(b)] == ["a", "b"]
    gone = a.merge(b).remove("b", T0 + 1)
    assert gone.expire(T0 + 299).deleted and not gone.expire(T0 + 300).deleted


@pytest.mark.parametrize(("field", "value", "match"), [
    ("multiplier", 1e308, "less than or equal to 100"),
    ("duration_s", 400 * 86400, "less than or equal to"),
    ("min_replicas", 10**9, "less than or equal to"),
    ("start", "9999-12-31T23:59:59Z", "must be a time between"),
    ("start", "2026-03-09T13:00:00Z" + "0" * 10_000, "not an ISO-8601"),
], ids=["multiplier-1e308", "duration-400d", "floor-1e9", "year-9999", "huge-start"])
def test_an_event_request_out_of_bounds_is_refused(field: str, value: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        request(**{field: value, **({"min_replicas": None} if field == "multiplier" else {})})


def test_an_event_more_than_a_year_ahead_is_refused() -> None:
    with pytest.raises(ValueError, match="more than 366 days ahead"):
        book_event(request(start="2027-06-09T13:00:00Z"), NOW)


def test_windows_ahead_are_listed_for_the_node_look_ahead_but_floor_only_while_in_force() -> None:
    book = EventBook().add(event("soon", start=300, end=900))  # starts in 5 min
    assert book.active("llm", T0, lead_s=180) == []  # pre-warmed by the pod lead: from 120 s, not yet
    ahead = book.active("llm", T0, lead_s=180, ahead_s=420)  # nodes asked now are Ready in 7 min
    assert [w.source for w in ahead] == ["webhook:soon"]
    assert floor(ahead, T0, 2) == (0, None) and floor(ahead, T0 + 420, 2)[0] == 3
    assert book.active("llm", T0 + 900, lead_s=180, ahead_s=420) == []  # over
