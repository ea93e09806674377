"""Read a demand trace from a ``timestamp,value`` CSV file into a regular series.

Rules (each counted in :class:`TraceReport`, never applied silently):

* a header row is required; its first two names must be ``timestamp`` and ``value``;
* timestamps are ISO-8601 (a zone offset is honoured; no offset means UTC) or epoch seconds;
* rows are sorted by time if they are not (``unsorted_rows`` counts rows found out of order);
* rows with the same time slot: the later row in the file wins (``duplicates``);
* the step is the median gap between samples; each sample goes to its nearest grid slot;
* empty, ``nan`` and negative values are missing (``missing_values``, ``negative_values``);
* zero values are kept (no demand is real demand) but counted (``zero_values``);
* missing slots and missing values are filled by linear interpolation between the nearest
  valid neighbours (``filled_slots``); leading or trailing ones take the nearest valid value.

A row that is not ``timestamp,value`` (wrong field count, unparseable time or number) raises
:class:`TraceError` naming the file and the line.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from forecastscale.errors import TraceError
from forecastscale.types import FloatArray

MIN_SAMPLES = 3


@dataclass(frozen=True)
class TraceReport:
    """What the loader found and fixed, in rows or grid slots."""

    rows: int
    unsorted_rows: int
    duplicates: int
    missing_values: int
    negative_values: int
    zero_values: int
    filled_slots: int

    def summary(self) -> str:
        """One human line, e.g. for a log or the CLI."""
        return (
            f"{self.rows} rows; {self.unsorted_rows} out of order, {self.duplicates} duplicate, "
            f"{self.missing_values} missing, {self.negative_values} negative, "
            f"{self.zero_values} zero values; "
            f"{self.filled_slots} slots filled by interpolation"
        )


@dataclass(frozen=True)
class Trace:
    """A regular series: ``values[i]`` is the demand over ``[start + i·step_s, … + step_s)``."""

    name: str
    start: datetime
    step_s: float
    values: FloatArray
    report: TraceReport

    @property
    def duration_s(self) -> float:
        """Seconds covered, from the first sample's start to the last sample's end."""
        return len(self.values) * self.step_s


def _parse_time(text: str) -> float:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    stamp = datetime.fromisoformat(text)  # ValueError for anything else
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def _parse_value(text: str) -> float:
    text = text.strip()
    return math.nan if text == "" else float(text)


def _read_rows(path: Path) -> tuple[list[float], list[float]]:
    times: list[float] = []
    values: list[float] = []
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            _check_header(path, header)
            for row in reader:
                if not row or all(not f.strip() for f in row):
                    continue
                where = f"{path}:{reader.line_num}"
                if len(row) < 2:
                    raise TraceError(f"{where}: expected 'timestamp,value', got {','.join(row)!r}")
                try:
                    times.append(_parse_time(row[0]))
                except ValueError:
                    raise TraceError(f"{where}: not a timestamp: {row[0]!r}") from None
                try:
                    values.append(_parse_value(row[1]))
                except ValueError:
                    raise TraceError(f"{where}: not a number: {row[1]!r}") from None
    except OSError as exc:
        raise TraceError(f"{path}: cannot read: {exc.strerror}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise TraceError(f"{path}: not a text CSV file: {exc}") from exc
    return times, values


def _check_header(path: Path, header: list[str] | None) -> None:
    if header is None:
        raise TraceError(f"{path}:1: empty file; expected a 'timestamp,value' header")
    names = [h.strip().lower() for h in header[:2]]
    if names != ["timestamp", "value"]:
        raise TraceError(f"{path}:1: header must start with 'timestamp,value', got {','.join(header)!r}")


def _grid(times: FloatArray, path: Path) -> tuple[float, FloatArray]:
    gaps = np.diff(times)
    positive = gaps[gaps > 0]
    if positive.size == 0:
        raise TraceError(f"{path}: all samples share one timestamp; no step can be inferred")
    step = float(np.median(positive))
    return step, np.rint((times - times[0]) / step).astype(np.int64)


def load_trace(path: Path) -> Trace:
    """Load ``path`` as a regular series, applying and counting the module's rules."""
    raw_times, raw_values = _read_rows(path)
    if len(raw_times) < MIN_SAMPLES:
        raise TraceError(f"{path}: {len(raw_times)} data rows; need at least {MIN_SAMPLES}")
    times = np.asarray(raw_times)
    values = np.asarray(raw_values, dtype=np.float64)
    unsorted = int(np.sum(np.diff(times) < 0))
    order = np.argsort(times, kind="stable")  # stable: the later duplicate stays later
    times, values = times[order], values[order]
    step, slot = _grid(times, path)
    n_slots = int(slot[-1]) + 1
    grid = np.full(n_slots, np.nan)
    grid[slot] = values  # fancy assignment: the last write wins on a duplicate slot
    duplicates = len(slot) - len(np.unique(slot))
    missing = int(np.isnan(values).sum())
    negative = int(np.sum(values < 0))
    grid[grid < 0] = np.nan
    valid = ~np.isnan(grid)
    if valid.sum() < 2:
        raise TraceError(f"{path}: fewer than 2 valid (non-negative, non-NaN) values")
    idx = np.arange(n_slots)
    filled = np.interp(idx, idx[valid], grid[valid])
    report = TraceReport(
        rows=len(raw_times),
        unsorted_rows=unsorted,
        duplicates=duplicates,
        missing_values=missing,
        negative_values=negative,
        zero_values=int(np.sum(values == 0)),
        filled_slots=int((~valid).sum()),
    )
    start = datetime.fromtimestamp(float(times[0]), tz=UTC)
    return Trace(name=path.name, start=start, step_s=step, values=filled, report=report)
