"""Aggregate an LLM request log into demand series: requests/s, prompt tokens/s and generated tokens/s per step.

The Azure LLM inference traces (``data/AzureLLMInferenceTrace_*.csv``, CC-BY-4.0, Patel et al., ISCA 2024) are
request logs, not series: one row per request, ``TIMESTAMP,ContextTokens,GeneratedTokens``. The rules (the
same on every input, never applied silently):

* a header is required, exactly those three names (letter case and surrounding spaces aside); the file is
  UTF-8 (a byte-order mark is accepted); every row has three fields; blank lines are skipped;
* ``TIMESTAMP`` is read as in :mod:`forecastscale.sources.csvtrace`: ISO-8601 (a zone offset is honoured,
  none means UTC; the traces' seven fractional digits are cut to microseconds) or epoch seconds, 1990–2200;
* token counts are whole numbers from 0 to :data:`MAX_TOKENS` (per request);
* rows may come in any time order (``unsorted_rows`` counts those earlier than the row before);
* each request counts in the step of its **arrival**: step ``k`` covers ``[start_s + k·step_s, start_s +
  (k+1)·step_s)``, ``start_s`` being the first arrival rounded down to a multiple of ``step_s`` in epoch
  seconds, so steps line up with a Prometheus scrape grid and the live loop's ticks;
* per step: requests/s = requests arriving / ``step_s``; prompt tokens/s = their ``ContextTokens`` summed /
  ``step_s``; generated tokens/s = their ``GeneratedTokens`` summed / ``step_s``. Generated tokens are
  counted at arrival too: the log has no completion times (a reply of a few hundred tokens takes seconds,
  so at 10 s steps this moves tokens by a step or two, never out of a burst);
* a step without arrivals is zero demand (no request came), not a gap: nothing is interpolated;
* at most :data:`MAX_ROWS` rows and :data:`MAX_STEPS` steps, refused before the series are allocated.

Anything else raises :class:`~forecastscale.errors.TraceError` naming the file and the line.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from forecastscale.edge import finite, shown
from forecastscale.errors import TraceError
from forecastscale.sources.csvtrace import next_row, parse_time
from forecastscale.types import FloatArray

HEADER = ("timestamp", "contexttokens", "generatedtokens")
MAX_TOKENS = 10_000_000  # per request: ten times the longest context any model serves
MAX_ROWS = 5_000_000
MAX_STEPS = 5_000_000  # 1.6 years of 10-s steps; 40 MB per float64 series


@dataclass(frozen=True)
class RequestSeries:
    """Per-step rates of a request log: ``x[k]`` is the mean over ``[start_s + k·step_s, … + step_s)``."""

    name: str
    start_s: float  # epoch seconds at the start of step 0
    step_s: float
    requests_per_s: FloatArray
    prompt_tokens_per_s: FloatArray
    generated_tokens_per_s: FloatArray
    rows: int
    unsorted_rows: int

    @property
    def tokens_per_s(self) -> FloatArray:
        """Prompt and generated tokens per second: what a vLLM server processes (prefill + decode)."""
        total: FloatArray = self.prompt_tokens_per_s + self.generated_tokens_per_s
        return total

    def times(self) -> FloatArray:
        """Epoch seconds at the start of each step."""
        return self.start_s + self.step_s * np.arange(len(self.requests_per_s), dtype=np.float64)


@dataclass
class _Log:
    """Rows read so far: arrival (epoch s), prompt and generated tokens, line numbers."""

    times: list[float] = field(default_factory=list)
    prompt: list[float] = field(default_factory=list)
    generated: list[float] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


def _tokens(text: str, column: str) -> float:
    """A token count; ValueError naming ``column`` unless a whole number within 0…MAX_TOKENS."""
    stripped = text.strip()
    if not (stripped.isascii() and stripped.isdigit()) or len(stripped) > len(str(MAX_TOKENS)):
        raise ValueError(f"{column}: must be a whole number of tokens, got {shown(text)}")
    return finite(column, int(stripped), lo=0, hi=MAX_TOKENS)


def _parse_row(row: list[str]) -> tuple[float, float, float]:
    if len(row) != len(HEADER):
        raise ValueError(f"expected 'TIMESTAMP,ContextTokens,GeneratedTokens', got {len(row)} field(s): "
                         f"{shown(','.join(row))}")
    return parse_time(row[0]), _tokens(row[1], "ContextTokens"), _tokens(row[2], "GeneratedTokens")


def _check_header(path: Path, header: list[str] | None) -> None:
    if header is None:
        raise TraceError(f"{path}:1: empty file; expected a 'TIMESTAMP,ContextTokens,GeneratedTokens' header")
    if tuple(h.strip().lower() for h in header) != HEADER:
        raise TraceError(f"{path}:1: header must be 'TIMESTAMP,ContextTokens,GeneratedTokens', "
                         f"got {shown(','.join(header))}")


def _add(out: _Log, path: Path, row: list[str], line: int) -> None:
    if len(out.times) >= MAX_ROWS:
        raise TraceError(f"{path}:{line}: more than {MAX_ROWS:,} requests")
    try:
        t, prompt, generated = _parse_row(row)
    except ValueError as exc:
        raise TraceError(f"{path}:{line}: {exc}") from None
    out.times.append(t)
    out.prompt.append(prompt)
    out.generated.append(generated)
    out.lines.append(line)


def _read(path: Path) -> _Log:
    out = _Log()
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            _check_header(path, next_row(reader, path))
            while (row := next_row(reader, path)) is not None:
                if row and any(f.strip() for f in row):
                    _add(out, path, row, reader.line_num)
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL byte
        raise TraceError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from exc
    return out


def aggregate(name: str, times: FloatArray, prompt: FloatArray, generated: FloatArray,
              step_s: float = 10.0) -> RequestSeries:
    """Requests arriving at epoch ``times`` with their prompt and generated tokens → per-step rates (the
    module's rules). :class:`TraceError` (naming ``name``) without requests or over :data:`MAX_STEPS` steps."""
    step_s = finite("step_s", step_s, lo=1e-3, hi=86400)
    if len(times) == 0:
        raise TraceError(f"{name}: no requests")
    start = math.floor(float(times.min()) / step_s) * step_s
    n_steps = math.floor((float(times.max()) - start) / step_s) + 1
    if n_steps > MAX_STEPS:
        raise TraceError(f"{name}: the requests span {float(times.max() - times.min()):,.0f} s, {n_steps:,} steps "
                         f"of {step_s:g} s (at most {MAX_STEPS:,})")
    k = np.minimum(np.floor((times - start) / step_s).astype(np.int64), n_steps - 1)  # float noise at the end

    def rate(weights: FloatArray | None) -> FloatArray:
        per_step: FloatArray = np.bincount(k, weights=weights, minlength=n_steps).astype(np.float64) / step_s
        return per_step

    return RequestSeries(name=name, start_s=start, step_s=step_s, requests_per_s=rate(None),
                         prompt_tokens_per_s=rate(prompt), generated_tokens_per_s=rate(generated),
                         rows=len(times), unsorted_rows=int(np.sum(np.diff(times) < 0)))


def load_request_log(path: Path, step_s: float = 10.0) -> RequestSeries:
    """Read the request log at ``path`` and aggregate it per ``step_s`` seconds (the module's rules)."""
    log = _read(path)
    series = aggregate(str(path), np.asarray(log.times, dtype=np.float64), np.asarray(log.prompt, dtype=np.float64),
                       np.asarray(log.generated, dtype=np.float64), step_s)
    return replace(series, name=path.name)  # errors above name the full path; the series, the file
