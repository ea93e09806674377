"""Read a demand trace from Prometheus (``/api/v1/query_range``) into a regular series.

The query must select exactly one series; the result is put on the grid ``start + i·step_s``
(seconds) and repaired with the rules of :mod:`forecastscale.sources.csvtrace`, each repair
counted in :class:`TraceReport`. NaN and ±Inf samples (e.g. ``0/0`` in a ``rate`` ratio) count as
missing values. Errors are typed by what the caller does next: :class:`PrometheusUnavailable`
(retry later) or :class:`PrometheusQueryError` (fix the query or the URL).
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
import requests

# The submodules, not the package: its lazy __getattr__ would hide the real signatures from mypy.
from prometheus_api_client.exceptions import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from urllib3.util.retry import Retry

from forecastscale.errors import PermanentError, TemporaryError, TraceError
from forecastscale.sources.csvtrace import Trace, parse_value, regularise
from forecastscale.types import FloatArray

# Prometheus refuses a range query of more than 11,000 points per series; stay well below.
MAX_STEPS_PER_QUERY = 10_000

_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
# The client reports a non-200 answer only as text: "HTTP Status Code 400 (b'{...}')".
_HTTP_ERROR = re.compile(r"HTTP Status Code (\d+) \((.*)\)\Z", re.DOTALL)


class PrometheusUnavailable(TemporaryError):
    """Prometheus could not answer now (refused, timed out, overloaded, 5xx): retry later."""


class PrometheusQueryError(PermanentError):
    """The query, the URL or the data cannot give a trace; the same call will fail again."""


class SeriesCountError(PrometheusQueryError):
    """The query selected zero or several series; ``count`` says how many."""

    def __init__(self, message: str, count: int) -> None:
        super().__init__(message)
        self.count = count


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus-style duration such as ``"14d"``, ``"6h"``, ``"1h30m"`` or ``"90s"``."""
    compact = text.strip()
    if not _DURATION.fullmatch(compact):
        raise ValueError(f"not a duration: {text!r}; expected e.g. '90s', '30m', '6h', '14d' or '1h30m'")
    seconds = sum(float(number) * _UNITS_S[unit] for number, unit in _PART.findall(compact))
    if seconds <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    return seconds


def _prometheus_message(body: str) -> str:
    """Prometheus' own ``error`` text from the repr of a response body, else the body as is."""
    try:
        raw = ast.literal_eval(body)
        decoded = json.loads(raw)
    except (ValueError, SyntaxError, TypeError):
        return body
    return str(decoded.get("error", body)) if isinstance(decoded, dict) else body


def _utc_seconds(moment: datetime) -> int:
    # No zone means UTC (as in csvtrace); the client sends whole seconds, so truncate here
    # where the grid is defined rather than let it round each chunk on its own.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp())


class PrometheusSource:
    """Fetch one series per call from the Prometheus server at ``url``.

    ``timeout_s`` bounds each HTTP request, in seconds. The default client does not retry:
    a :class:`PrometheusUnavailable` goes back to the caller, who owns the back-off.
    """

    def __init__(self, url: str, timeout_s: float = 30.0, client: PrometheusConnect | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        # No retries (read=False also keeps a read timeout a Timeout, not a ConnectionError).
        self.client = client if client is not None else PrometheusConnect(url=self.url, retry=Retry(0, read=False))

    def fetch(self, query: str, start: datetime, end: datetime, step_s: float) -> Trace:
        """Evaluate ``query`` at ``start, start + step_s, …, ≤ end`` (whole seconds; no zone = UTC).

        ``step_s`` must be a whole number of seconds ≥ 1 because the client sends whole-second
        times. Longer ranges are split into queries of at most ``MAX_STEPS_PER_QUERY`` points.
        """
        start_s, n_slots, samples = self._samples(query, start, end, step_s)
        return _to_trace(query, start_s, float(step_s), n_slots, samples)

    def grid(self, query: str, start: datetime, end: datetime, step_s: float) -> FloatArray:
        """Like :meth:`fetch`, but unrepaired: one value per slot as Prometheus gave it, NaN where none.

        A query that selects no series gives all NaN (the live loop treats that as missing data).
        """
        try:
            start_s, n_slots, samples = self._samples(query, start, end, step_s)
        except SeriesCountError as exc:
            if exc.count:
                raise
            return np.full(self._slots(start, end, step_s)[1], np.nan)
        times, values = _arrays(samples)
        slots = np.rint((times - start_s) / step_s).astype(np.int64)
        inside = (slots >= 0) & (slots < n_slots)
        out = np.full(n_slots, np.nan)
        out[slots[inside]] = values[inside]
        return out

    @staticmethod
    def _slots(start: datetime, end: datetime, step_s: float) -> tuple[int, int]:
        if not (step_s >= 1 and float(step_s).is_integer()):
            raise ValueError(f"step_s must be a whole number of seconds >= 1, got {step_s!r}")
        start_s, end_s = _utc_seconds(start), _utc_seconds(end)
        if end_s < start_s:
            raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
        return start_s, (end_s - start_s) // int(step_s) + 1

    def _samples(self, query: str, start: datetime, end: datetime, step_s: float
                 ) -> tuple[int, int, list[list[Any]]]:
        """``(start_s, n_slots, [[epoch_s, "value"], …])`` of the one series ``query`` selects."""
        start_s, n_slots = self._slots(start, end, step_s)
        series: dict[tuple[tuple[str, str], ...], list[list[Any]]] = {}
        for first in range(0, n_slots, MAX_STEPS_PER_QUERY):
            last = min(first + MAX_STEPS_PER_QUERY, n_slots) - 1  # chunks share no slot: no duplicates
            for item in self._query(query, start_s + first * step_s, start_s + last * step_s, step_s):
                series.setdefault(tuple(sorted(item["metric"].items())), []).extend(item["values"])
        if not series:
            raise SeriesCountError(f"query returned no series: {query}", 0)
        if len(series) > 1:
            shown = ", ".join("{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}" for labels in list(series)[:3])
            raise SeriesCountError(
                f"query returned {len(series)} series ({shown}{', …' if len(series) > 3 else ''}); "
                f"a trace needs exactly one: aggregate them, e.g. sum({query})",
                len(series),
            )
        (samples,) = series.values()
        return start_s, n_slots, samples

    def instant(self, query: str, at: datetime) -> float | None:
        """The value of ``query`` at ``at`` (``/api/v1/query``); None if it selects no series.

        The value is returned as Prometheus gave it, NaN or negative included: the caller decides
        what an unusable sample means. Several series raise :class:`SeriesCountError`.
        """
        with self._translated(query):
            result: list[dict[str, Any]] = self.client.custom_query(
                query, params={"time": str(_utc_seconds(at))},
                timeout=self.timeout_s,  # type: ignore[arg-type]  # annotated int, passed on to requests (float ok)
            )
            if not result:
                return None
            if len(result) > 1:
                raise SeriesCountError(
                    f"query returned {len(result)} series; a target needs exactly one: aggregate them, "
                    f"e.g. sum({query})", len(result))
            return parse_value(result[0]["value"][1])

    def instant_series(self, query: str, at: datetime) -> list[tuple[dict[str, str], float]]:
        """Every series ``query`` selects at ``at``: ``(labels, value)`` pairs (``/api/v1/query``)."""
        with self._translated(query):
            result: list[dict[str, Any]] = self.client.custom_query(
                query, params={"time": str(_utc_seconds(at))},
                timeout=self.timeout_s,  # type: ignore[arg-type]  # as in instant()
            )
            return [(dict(r.get("metric", {})), parse_value(r["value"][1])) for r in result]

    def _query(self, query: str, start_s: float, end_s: float, step_s: float) -> list[dict[str, Any]]:
        with self._translated(query):
            result: list[dict[str, Any]] = self.client.custom_query_range(
                query,
                start_time=datetime.fromtimestamp(start_s, tz=UTC),
                end_time=datetime.fromtimestamp(end_s, tz=UTC),
                step=repr(float(step_s)),  # repr keeps every digit; Prometheus parses "60.0" as seconds
                timeout=self.timeout_s,  # type: ignore[arg-type]  # annotated int, passed on to requests (float ok)
            )
        return result

    @contextmanager
    def _translated(self, query: str) -> Iterator[None]:
        """Turn the client's and ``requests``' exceptions into temporary/permanent errors (cause kept)."""
        where = f"{self.url}: query {query!r}"
        try:
            yield
        except PrometheusApiClientException as exc:
            match = _HTTP_ERROR.match(str(exc))
            status = int(match[1]) if match else 0
            detail = _prometheus_message(match[2]) if match else str(exc)
            # 408/429/5xx: overloaded, restarting or a failing proxy in between; all else is the request.
            if status in (408, 429) or status >= 500:
                raise PrometheusUnavailable(f"{where}: HTTP {status}: {detail}") from exc
            raise PrometheusQueryError(f"{where}: HTTP {status}: {detail}") from exc
        except requests.exceptions.SSLError as exc:  # a ConnectionError, but retrying will not fix a certificate
            raise PrometheusQueryError(f"{where}: TLS failed: {exc}") from exc
        except requests.Timeout as exc:
            raise PrometheusUnavailable(f"{where}: no answer within {self.timeout_s} s") from exc
        except (requests.ConnectionError, requests.exceptions.RetryError,
                requests.exceptions.ChunkedEncodingError) as exc:
            raise PrometheusUnavailable(f"{where}: cannot reach Prometheus ({type(exc).__name__})") from exc
        except (requests.exceptions.JSONDecodeError, KeyError, TypeError, IndexError) as exc:
            raise PrometheusQueryError(f"{where}: not a Prometheus API answer (is the URL right?)") from exc
        except requests.RequestException as exc:  # malformed URL and the like
            raise PrometheusQueryError(f"{where}: {exc}") from exc


def _arrays(samples: list[list[Any]]) -> tuple[FloatArray, FloatArray]:
    """``(times, values)`` of Prometheus ``[[epoch_s, "value"], …]`` pairs (value text parsed as CSV is)."""
    times = np.asarray([float(t) for t, _ in samples], dtype=np.float64)
    values = np.asarray([parse_value(v) for _, v in samples], dtype=np.float64)
    return times, values


def _to_trace(name: str, start_s: int, step_s: float, n_slots: int, samples: list[list[Any]]) -> Trace:
    """Grid and repair ``[[epoch_s, "value"], …]`` exactly as ``csvtrace.load_trace`` does a file."""
    times, values = _arrays(samples)
    try:
        return regularise(name, times, values, float(start_s), step_s, n_slots)
    except TraceError as exc:
        raise PrometheusQueryError(f"query {exc}") from exc
