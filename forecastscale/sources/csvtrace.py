"""Read a demand trace from a ``timestamp,value`` CSV file into a regular series.

Rules (each counted in :class:`TraceReport`, never applied silently):

* a header row is required; its first two names must be ``timestamp`` and ``value``; further named
  columns are allowed, and every row must have as many fields as the header. Of them, ``queue`` (requests
  waiting), ``gpu_utilisation`` and ``kv_cache`` (% of the GPUs busy, of the KV cache in use) are kept
  (:data:`COLUMNS`; the backtest feeds them to the queue, GPU-utilisation and KV-cache rules) and read like
  ``value`` — numbers, missing when empty, NaN, infinite or negative (or, for a percentage, above 100), then
  filled by the same interpolation (``columns_filled`` counts slots filled per column); the others (a host,
  a label) are ignored;
* the file is UTF-8 (a byte-order mark is accepted);
* timestamps are ISO-8601 (a zone offset is honoured; no offset means UTC) or epoch seconds, between
  1990 and 2200 (:data:`forecastscale.edge.EARLIEST_S`/``LATEST_S``); epoch *milliseconds* are refused
  with a message saying so (dividing silently could misread a real far-future second);
* rows are sorted by time if they are not (``unsorted_rows`` counts rows found out of order);
* rows with the same time slot: the later row in the file wins (``duplicates``);
* the step is the median gap between samples; each sample goes to its nearest grid slot;
* the grid holds at most :data:`MAX_SLOTS` slots: rows so far apart for their step that they would need
  more are refused before anything is allocated (the message gives the slots needed and the step);
* empty, ``nan``, ``inf`` and negative values are missing (``missing_values``, ``negative_values``);
* zero values are kept (no demand is real demand) but counted (``zero_values``);
* missing slots and missing values are filled by linear interpolation between the nearest
  valid neighbours (``filled_slots``); leading or trailing ones take the nearest valid value.

A row that is not ``timestamp,value`` (wrong field count, unparseable or out-of-range time, unparseable
number) raises :class:`TraceError` naming the file and the line.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from forecastscale.edge import epoch, escaped, shown
from forecastscale.errors import TraceError
from forecastscale.types import FloatArray

MIN_SAMPLES = 3
MAX_SLOTS = 5_000_000  # grid slots: 9.5 years of 1-min steps; 40 MB a float64 array
COLUMNS = ("queue", "gpu_utilisation", "kv_cache")  # extra header columns kept, besides value
PERCENT_COLUMNS = ("gpu_utilisation", "kv_cache")  # percentages: above 100 is not a reading


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
    columns_filled: Mapping[str, int] = field(default_factory=dict)  # per kept extra column: slots filled

    def summary(self) -> str:
        """One human line, e.g. for a log or the CLI."""
        extra = "".join(f"; {name}: {n} slots filled" for name, n in self.columns_filled.items())
        return (
            f"{self.rows} rows; {self.unsorted_rows} out of order, {self.duplicates} duplicate, "
            f"{self.missing_values} missing, {self.negative_values} negative, "
            f"{self.zero_values} zero values; "
            f"{self.filled_slots} slots filled by interpolation{extra}"
        )


@dataclass(frozen=True)
class Trace:
    """A regular series: ``values[i]`` is the demand over ``[start + i·step_s, … + step_s)``."""

    name: str
    start: datetime
    step_s: float
    values: FloatArray
    report: TraceReport
    columns: Mapping[str, FloatArray] = field(default_factory=dict)  # kept extra columns, on the same grid

    @property
    def duration_s(self) -> float:
        """Seconds covered, from the first sample's start to the last sample's end."""
        return len(self.values) * self.step_s


def parse_time(text: str) -> float:
    """Epoch seconds of a CSV timestamp (ISO-8601 or a number); ValueError saying why it is not a usable time."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        try:
            stamp = datetime.fromisoformat(text[:64])  # no real timestamp is longer
        except ValueError:
            raise ValueError(f"not a timestamp: {shown(text)}") from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        try:
            number = epoch("timestamp", stamp.timestamp())
        except (OverflowError, ValueError):  # OverflowError: year 1 or 9999 pushed past datetime's range
            raise ValueError(f"timestamp: {shown(text)} is not between 1990 and 2200") from None
        return number
    return epoch("timestamp", number)


def parse_value(text: str) -> float:
    """A CSV or Prometheus sample value; empty text is a missing value (NaN)."""
    text = text.strip()
    return math.nan if text == "" else float(text)


def _number(row: list[str], index: int, name: str) -> float:
    try:
        return parse_value(row[index])
    except ValueError:
        label = "" if name == "value" else f"{name} "
        raise ValueError(f"{label}not a number: {shown(row[index])}") from None


def _parse_row(row: list[str], width: int, kept: Mapping[str, int]) -> tuple[float, float, list[float]]:
    """``(epoch_s, value, kept columns' values)`` of one data row of ``width`` fields; ValueError saying what is
    wrong."""
    if len(row) != width:
        want = "'timestamp,value'" if width == 2 else f"{width} fields like the header"
        raise ValueError(f"expected {want}, got {len(row)} field(s): {shown(','.join(row))}")
    t = parse_time(row[0])
    return t, _number(row, 1, "value"), [_number(row, i, name) for name, i in kept.items()]


@dataclass
class _Rows:
    """The data rows read so far: times (epoch s), values, kept columns' values, line numbers."""

    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    columns: dict[str, list[float]] = field(default_factory=dict)
    lines: list[int] = field(default_factory=list)


def _read_rows(path: Path) -> _Rows:
    """The data rows of ``path``."""
    out = _Rows()
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            width, kept = _check_header(path, next_row(reader, path))
            out.columns = {name: [] for name in kept}
            while (row := next_row(reader, path)) is not None:
                if not row or all(not f.strip() for f in row):
                    continue
                if len(out.times) >= MAX_SLOTS:
                    raise TraceError(f"{path}:{reader.line_num}: more than {MAX_SLOTS:,} data rows")
                try:
                    t, v, extra = _parse_row(row, width, kept)
                except ValueError as exc:
                    raise TraceError(f"{path}:{reader.line_num}: {exc}") from None
                out.times.append(t)
                out.values.append(v)
                for name, x in zip(kept, extra, strict=True):
                    out.columns[name].append(x)
                out.lines.append(reader.line_num)
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL byte
        raise TraceError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from exc
    return out


def next_row(reader: Any, path: Path) -> list[str] | None:
    """The next CSV row, None at the end; a decoding or CSV syntax problem is a TraceError with the line."""
    try:
        return next(reader, None)
    except UnicodeDecodeError as exc:  # decoded a chunk ahead: the line is where the chunk starts, roughly
        raise TraceError(f"{path}:{reader.line_num + 1}: not a text CSV file: not UTF-8 ({exc.reason}) "
                         f"at or after this line") from exc
    except csv.Error as exc:  # line_num already counts the offending line
        raise TraceError(f"{path}:{reader.line_num}: not a text CSV file: {escaped(str(exc), 200)}") from exc


def _check_header(path: Path, header: list[str] | None) -> tuple[int, dict[str, int]]:
    """The header's field count and the index of each kept column (:data:`COLUMNS`), after checking that it
    starts with ``timestamp,value`` and names no kept column twice."""
    if header is None:
        raise TraceError(f"{path}:1: empty file; expected a 'timestamp,value' header")
    names = [h.strip().lower() for h in header]
    if names[:2] != ["timestamp", "value"]:
        raise TraceError(f"{path}:1: header must start with 'timestamp,value', got {shown(','.join(header))}")
    twice = [n for n in COLUMNS if names.count(n) > 1]
    if twice:
        raise TraceError(f"{path}:1: column {twice[0]!r} named more than once in the header")
    return len(header), {n: names.index(n) for n in COLUMNS if n in names}


def _step(sorted_times: FloatArray, path: Path) -> float:
    """The median positive gap between samples, in seconds."""
    gaps = np.diff(sorted_times)
    positive = gaps[gaps > 0]
    if positive.size == 0:
        raise TraceError(f"{path}: all samples share one timestamp; no step can be inferred")
    return float(np.median(positive))


def _column(name: str, column: str, raw: FloatArray, slot: npt.NDArray[np.int64],
            n_slots: int) -> tuple[FloatArray, int]:
    """A kept column on the grid (``raw`` already sorted and cut like the values), with missing slots filled as
    the values' are, and how many were filled; TraceError if it holds no valid value."""
    grid = np.full(n_slots, np.nan)
    top = 100.0 if column in PERCENT_COLUMNS else math.inf
    grid[slot] = np.where(np.isfinite(raw) & (raw >= 0) & (raw <= top), raw, np.nan)
    valid = ~np.isnan(grid)
    if not valid.any():
        within = "finite, within 0–100" if column in PERCENT_COLUMNS else "finite, non-negative"
        raise TraceError(f"{name}: column {column!r} holds no valid ({within}) value")
    idx = np.arange(n_slots)
    return np.interp(idx, idx[valid], grid[valid]), int((~valid).sum())


def regularise(name: str, times: FloatArray, values: FloatArray, origin_s: float, step_s: float,
               n_slots: int, columns: Mapping[str, FloatArray] | None = None) -> Trace:
    """Samples at epoch ``times`` → a regular grid of ``n_slots`` steps from ``origin_s``, with the
    module's rules applied and counted (``columns``: kept extra columns, one value per sample, gridded
    alike). Raises :class:`TraceError` when too little is valid or the grid would exceed :data:`MAX_SLOTS`."""
    if not 0 < n_slots <= MAX_SLOTS:
        raise TraceError(f"{name}: a grid of {n_slots:,} slots of {step_s:g} s (at most {MAX_SLOTS:,})")
    values = np.where(np.isinf(values), np.nan, values)  # ±Inf carries no demand figure: missing
    unsorted = int(np.sum(np.diff(times) < 0))
    order = np.argsort(times, kind="stable")  # stable: the later duplicate stays later
    times, values = times[order], values[order]
    slot = np.rint((times - origin_s) / step_s).astype(np.int64)
    inside = (slot >= 0) & (slot < n_slots)  # a source may answer a little beyond the range asked
    slot, values = slot[inside], values[inside]
    kept = {c: _column(name, c, np.asarray(col, dtype=np.float64)[order][inside], slot, n_slots)
            for c, col in (columns or {}).items()}
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
        columns_filled={c: filled for c, (_, filled) in kept.items()},
    )
    start = datetime.fromtimestamp(origin_s, tz=UTC)
    return Trace(name=name, start=start, step_s=step_s, values=np.interp(idx, idx[valid], grid[valid]),
                 report=report, columns={c: grid_values for c, (grid_values, _) in kept.items()})


def _check_slots(path: Path, times: FloatArray, lines: list[int], step: float) -> int:
    """Grid slots from the first to the last row at ``step`` s; TraceError before allocating if over MAX_SLOTS."""
    order = np.argsort(times, kind="stable")
    first, last = float(times[order[0]]), float(times[order[-1]])
    n_slots = int(np.rint((last - first) / step)) + 1
    if n_slots > MAX_SLOTS:
        gap = int(np.argmax(np.diff(times[order])))
        a, b = lines[order[gap]], lines[order[gap + 1]]
        raise TraceError(f"{path}:{b}: the rows span {last - first:,.0f} s at the inferred step of {step:g} s, "
                         f"which needs {n_slots:,} slots (at most {MAX_SLOTS:,}); the largest gap is "
                         f"{float(times[order[gap + 1]] - times[order[gap]]):,.0f} s, between lines {a} and {b}")
    return n_slots


def load_trace(path: Path) -> Trace:
    """Load ``path`` as a regular series, applying and counting the module's rules."""
    rows = _read_rows(path)
    if len(rows.times) < MIN_SAMPLES:
        raise TraceError(f"{path}: {len(rows.times)} data rows; need at least {MIN_SAMPLES}")
    times = np.asarray(rows.times, dtype=np.float64)
    step = _step(np.sort(times), path)
    n_slots = _check_slots(path, times, rows.lines, step)
    columns = {c: np.asarray(v, dtype=np.float64) for c, v in rows.columns.items()}
    trace = regularise(str(path), times, np.asarray(rows.values, dtype=np.float64), float(times.min()), step,
                       n_slots, columns)
    return replace(trace, name=path.name)  # errors above name the full path; the trace, the file
