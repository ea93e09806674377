"""Progress of long commands: an ETA in a terminal, a line at most every 30 s and one at the end when
stderr is redirected, nothing with --quiet. The clock is simulated: no test waits or reads the wall clock."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.progress import TimeRemainingColumn

from forecastscale.cli.progress import LOG_EVERY_S, LoggedProgress, duration, make_progress


class Clock:
    """Simulated seconds; a test moves ``now``."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def console(terminal: bool) -> Console:
    return Console(file=io.StringIO(), force_terminal=terminal, width=200)


def lines(c: Console) -> list[str]:
    file = c.file
    assert isinstance(file, io.StringIO)
    return file.getvalue().splitlines()


def sweep(progress_console: Console, clock: Clock, total: int, moves: list[tuple[float, int]],
          quiet: bool = False) -> None:
    """A sweep of ``total`` points: at each (seconds, points done) of ``moves``, the count moves to that."""
    with make_progress(quiet, progress_console, clock) as progress:
        task = progress.add_task("sweeping nyc_taxi.csv", total=total, unit="points")
        for at, done in moves:
            clock.now = at
            progress.update(task, completed=done)


@pytest.mark.parametrize(("moves", "expected"), [
    ([(180, 12)], ["sweeping nyc_taxi.csv: 12/40 points, 3 min elapsed, ~7 min left"]),
    ([(10, 1), (29, 2)], ["sweeping nyc_taxi.csv: 2/40 points, 29 s elapsed, ~9 min left"]),
    ([(31, 2), (45, 3), (62, 4), (600, 40)], ["sweeping nyc_taxi.csv: 2/40 points, 31 s elapsed, ~10 min left",
                                              "sweeping nyc_taxi.csv: 4/40 points, 62 s elapsed, ~9 min left",
                                              "sweeping nyc_taxi.csv: 40/40 points, 10 min elapsed, done"]),
    ([(3 * 3600 + 300, 20)], ["sweeping nyc_taxi.csv: 20/40 points, 3 h 05 min elapsed, ~3 h 05 min left"]),
    ([(5, 40)], ["sweeping nyc_taxi.csv: 40/40 points, 5 s elapsed, done"]),
], ids=["the-issue-example", "quick-start-one-line-at-the-end", "every-30-s-and-the-end", "hours",
        "under-30-s-only-the-end"])
def test_redirected_progress_is_a_line_at_most_every_30_s(moves: list[tuple[float, int]],
                                                          expected: list[str]) -> None:
    out, clock = console(terminal=False), Clock()
    sweep(out, clock, 40, moves)
    assert lines(out) == expected


def test_a_line_per_30_s_however_often_it_moves() -> None:
    out, clock = console(terminal=False), Clock()
    sweep(out, clock, 200, [(float(t), t) for t in range(1, 101)])  # a point a second for 100 s
    assert [line.split(", ")[1] for line in lines(out)] == ["30 s elapsed", "60 s elapsed", "90 s elapsed",
                                                             "100 s elapsed"]  # the last one: at the end
    assert LOG_EVERY_S == 30


def test_advance_counts_like_update() -> None:
    out, clock = console(terminal=False), Clock()
    with make_progress(False, out, clock) as progress:
        task = progress.add_task("tuning predictive", total=4, unit="points")
        for at in (40.0, 80.0, 120.0, 160.0):
            clock.now = at
            progress.advance(task)
    assert lines(out)[0] == "tuning predictive: 1/4 points, 40 s elapsed, ~2 min left"
    assert lines(out)[-1] == "tuning predictive: 4/4 points, 3 min elapsed, done"


def test_without_a_total_it_says_what_and_how_long() -> None:
    out, clock = console(terminal=False), Clock()
    with make_progress(False, out, clock) as progress:
        task = progress.add_task("replaying shared pools", total=None)
        clock.now = 95.0
        progress.update(task, description="replaying pool a100-8x")
    assert lines(out) == ["replaying pool a100-8x: 95 s elapsed"]


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "redirected"])
def test_quiet_prints_nothing(terminal: bool) -> None:
    out, clock = console(terminal), Clock()
    sweep(out, clock, 40, [(100, 10), (200, 40)], quiet=True)
    assert lines(out) == []


def test_a_terminal_gets_the_bar_with_an_eta() -> None:
    progress = make_progress(False, console(terminal=True), Clock())
    assert not isinstance(progress, LoggedProgress)
    assert any(isinstance(column, TimeRemainingColumn) for column in progress.columns)


def test_redirected_output_gets_the_log_lines() -> None:
    assert isinstance(make_progress(False, console(terminal=False), Clock()), LoggedProgress)


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (45.4, "45 s"), (119, "119 s"), (120, "2 min"), (420, "7 min"), (89 * 60, "89 min"),
    (90 * 60, "1 h 30 min"), (3 * 3600 + 5 * 60, "3 h 05 min"),
], ids=["zero", "seconds", "under-2-min", "2-min", "minutes", "under-90-min", "90-min", "hours"])
def test_duration_is_as_precise_as_a_wait_needs(seconds: float, text: str) -> None:
    assert duration(seconds) == text
