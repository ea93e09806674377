"""Read a demand trace from a ``timestamp,value`` CSV file into a regular series.

Rules (each counted in :class:`TraceReport`, never applied silently):

* a header row is required; its first two names must be ``timestamp`` and ``value``;
* timestamps are ISO-8601 (a zone offset is honoured; no offset means UTC) or epoch seconds;
* rows are sorted by time if they are not (``unsorted_rows`` counts rows found out of order);
* rows with the same time slot: the later row in the file wins (``duplicates``);
* the step is the median gap between samples; each sample goes to its nearest grid slot;
* empty, ``nan``, ``inf`` and negative values are missing (``missing_values``, ``negative_values``);
* zero values are kept (no demand is real demand) but counted (``zero_values``);
* missing slots and missing values are filled by linear interpolation between the nearest
  valid neighbours (``filled_slots``); leading or trailing ones take the nearest valid value.

A row that is not ``timestamp,value`` (wrong field count, unparseable time or number) raises
:class:`TraceError` naming the file and the line.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, replace
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


def parse_value(text: str) -> float:
    """A CSV or Prometheus sample value; empty text is a missing value (NaN)."""
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
                    values.append(parse_value(row[1]))
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


def _step(sorted_times: FloatArray, path: Path) -> float:
    """The median positive gap between samples, in seconds."""
    gaps = np.diff(sorted_times)
    positive = gaps[gaps > 0]
    if positive.size == 0:
        raise TraceError(f"{path}: all samples share one timestamp; no step can be inferred")
    return float(np.median(positive))


def regularise(name: str, times: FloatArray, values: FloatArray, origin_s: float, step_s: float,
               n_slots: int) -> Trace:
    """Samples at epoch ``times`` → a regular grid of ``n_slots`` steps from ``origin_s``, with the
    module's rules applied and counted. Raises :class:`TraceError` when too little is valid."""
    values = np.where(np.isinf(values), np.nan, values)  # ±Inf carries no demand figure: missing
    unsorted = int(np.sum(np.diff(times) < 0))
    order = np.argsort(times, kind="stable")  # stable: the later duplicate stays later
    times, values = times[order], values[order]
    slot = np.rint((times - origin_s) / step_s).astype(np.int64)
    inside = (slot >= 0) & (slot < n_slots)  # a source may answer a little beyond the range asked
    slot, values = slot[inside], values[inside]
    grid = np.full(n_slots, np.nan)
    grid[slot] = values  # fancy assignment: the last write wins on a duplicate slot
    grid[grid < 0] = np.nan
    valid = ~np.isnan(grid)
    if len(values) < MIN_SAMPLES or valid.sum() < 2:
        raise TraceError(f"{name}: {len(values)} samples, {int(valid.sum())} valid (non-negative, non-NaN); "
                         f"need at least {MIN_SAMPLES} samples and 2 valid values")
    idx = np.arange(n_slots)
    report = TraceReport(
        rows=len(values),
        unsorted_rows=unsorted,
        duplicates=len(slot) - len(np.unique(slot)),
        missing_values=int(np.isnan(values).sum()),
        negative_values=int(np.sum(values < 0)),
        zero_values=int(np.sum(values == 0)),
        filled_slots=int((~valid).sum()),
    )
    start = datetime.fromtimestamp(origin_s, tz=UTC)
    return Trace(name=name, start=start, step_s=step_s, values=np.interp(idx, idx[valid], grid[valid]),
                 report=report)


def load_trace(path: Path) -> Trace:
    """Load ``path`` as a regular series, applying and counting the module's rules."""
    raw_times, raw_values = _read_rows(path)
    if len(raw_times) < MIN_SAMPLES:
        raise TraceError(f"{path}: {len(raw_times)} data rows; need at least {MIN_SAMPLES}")
    times = np.asarray(raw_times)
    first, last = float(times.min()), float(times.max())
    step = _step(np.sort(times), path)
    n_slots = int(np.rint((last - first) / step)) + 1
    trace = regularise(str(path), times, np.asarray(raw_values, dtype=np.float64), first, step, n_slots)
    return replace(trace, name=path.name)  # errors above name the full path; the trace, the file
