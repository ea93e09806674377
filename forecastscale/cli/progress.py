"""Progress of the long commands (backtest, ``--sweep``, tune, replay) on stderr.

In a terminal: a transient bar with the count, the time elapsed and an ETA. Redirected (a pipe, a log
file, CI): no bar, which would print nothing there, but one plain line per task at most every
:data:`LOG_EVERY_S` seconds while it moves, and one when it ends, e.g.::

    sweeping nyc_taxi.csv: 12/40 points, 3 min elapsed, ~7 min left

Both read one clock (``clock``, seconds; :func:`time.monotonic` unless a test passes a fake one).
A task counts ``steps`` unless ``add_task`` is given ``unit=`` (e.g. ``unit="points"``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

LOG_EVERY_S = 30.0  # often enough to see work move in a log, rarely enough to read it
DEFAULT_UNIT = "steps"


def make_progress(quiet: bool, console: Console, clock: Callable[[], float] = time.monotonic,
                  every_s: float = LOG_EVERY_S) -> Progress:
    """Progress on ``console``: the bar in a terminal, :class:`LoggedProgress` otherwise, nothing if ``quiet``."""
    if quiet or console.is_terminal:
        return Progress(*_bar_columns(), console=console, transient=True, disable=quiet, get_time=clock)
    return LoggedProgress(console, clock, every_s)


def _bar_columns() -> tuple[ProgressColumn, ...]:
    return (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn())


class LoggedProgress(Progress):
    """A :class:`~rich.progress.Progress` that draws nothing and prints :func:`progress_line` for a task when
    it moves at least ``every_s`` seconds (of ``clock``) after its last line, and for every task at the end
    (unless that line was just printed)."""

    def __init__(self, console: Console, clock: Callable[[], float], every_s: float) -> None:
        super().__init__(console=console, get_time=clock, disable=True)
        self.every_s = every_s
        self._last: dict[TaskID, tuple[float, str]] = {}  # per task: when its last line was printed, and what

    def update(self, task_id: TaskID, *, total: float | None = None, completed: float | None = None,
               advance: float | None = None, description: str | None = None, visible: bool | None = None,
               refresh: bool = False, **fields: Any) -> None:
        super().update(task_id, total=total, completed=completed, advance=advance, description=description,
                       visible=visible, refresh=refresh, **fields)
        self._maybe_print(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._maybe_print(task_id)

    def stop(self) -> None:
        for task in self.tasks:
            if progress_line(task) != self._last.get(task.id, (0.0, ""))[1]:
                self._print(task)
        super().stop()

    def _maybe_print(self, task_id: TaskID) -> None:
        task = self._tasks[task_id]
        last_s = self._last[task_id][0] if task_id in self._last else task.start_time or 0.0
        if self.get_time() - last_s >= self.every_s:
            self._print(task)

    def _print(self, task: Task) -> None:
        line = progress_line(task)
        self._last[task.id] = (self.get_time(), line)
        self.console.print(line, highlight=False, markup=False, soft_wrap=True)


def progress_line(task: Task) -> str:
    """``sweeping x.csv: 12/40 points, 3 min elapsed, ~7 min left``; the ETA assumes the rate so far holds
    (elapsed × left to do ÷ done), and is left out until something is done or once all is."""
    elapsed = task.elapsed or 0.0
    parts = [f"{duration(elapsed)} elapsed"]
    if task.total is not None:
        parts.insert(0, f"{task.completed:,.0f}/{task.total:,.0f} {task.fields.get('unit', DEFAULT_UNIT)}")
        if 0 < task.completed < task.total:
            parts.append(f"~{duration(elapsed * (task.total - task.completed) / task.completed)} left")
        elif task.completed >= task.total:
            parts.append("done")
    return f"{task.description}: {', '.join(parts)}"


def duration(seconds: float) -> str:
    """``45 s``, ``7 min`` or ``1 h 05 min``: as precise as a person needs for a wait (seconds up to 2 min)."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60:02d} min"
