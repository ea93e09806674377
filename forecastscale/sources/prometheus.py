"""Read a demand trace from Prometheus (``/api/v1/query_range``) into a regular series.

The query must select exactly one series; the result is put on the grid ``start + i·step_s``
(seconds) and repaired with the rules of :mod:`forecastscale.sources.csvtrace`, each repair
counted in :class:`TraceReport`. NaN and ±Inf samples (e.g. ``0/0`` in a ``rate`` ratio) count as
missing values. Errors are typed by what the caller does next: :class:`PrometheusUnavailable`
(retry later) or :class:`PrometheusQueryError` (fix the query or the URL); no other exception
leaves this module for anything the server sends.

Every answer is checked at the edge before a value is used (:mod:`forecastscale.edge`): the body
is at most :data:`MAX_ANSWER_BYTES` and read within the timeout, strict bounded JSON, at most
:data:`MAX_SERIES` series of ``{label: text}`` with ``[time, "value"]`` pairs, times sane UNIX
seconds (a range answer's within the range asked ± a step, at most one per step), values number
text of at most :data:`~forecastscale.edge.MAX_NUMBER_CHARS` characters. The error names the first
field that breaks a rule and a short form of its value.
"""

from __future__ import annotations

import ast
import math
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import numpy as np
import requests

# The submodules, not the package: its lazy __getattr__ would hide the real signatures from mypy.
from prometheus_api_client.exceptions import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from urllib3.util.retry import Retry

from forecastscale.edge import EARLIEST_S, LATEST_S, MAX_NUMBER_CHARS, epoch, escaped, shown, strict_json
from forecastscale.errors import PermanentError, TemporaryError, TraceError
from forecastscale.sources.csvtrace import Trace, parse_value, regularise
from forecastscale.types import FloatArray

# Prometheus refuses a range query of more than 11,000 points per series; stay well below.
MAX_STEPS_PER_QUERY = 10_000
# One series of MAX_STEPS_PER_QUERY points is ~0.4 MB of JSON; a DCGM answer of 10,000 GPUs with
# their labels ~5 MB. Beyond this the answer is refused before it is parsed.
MAX_ANSWER_BYTES = 8 * 2**20
MAX_ERROR_BYTES = 64 * 2**10  # of a non-200 body: enough for any error text, the rest is cut
MAX_SERIES = 10_000  # series in one answer (one per unhealthy GPU is the largest we ask for)
MESSAGE_CHARS = 300  # of Prometheus' error text repeated in ours

_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
# The client reports a non-200 answer only as text: "HTTP Status Code 400 (b'{...}')".
_HTTP_ERROR = re.compile(r"HTTP Status Code (\d{1,3}) \((.*)\)\Z", re.DOTALL)
# The repr of a bytes body: one flat literal, so literal_eval cannot nest or recurse on it.
_BYTES_REPR = re.compile(r"""b'(?:[^'\\]|\\.)*'|b"(?:[^"\\]|\\.)*\"""", re.DOTALL)

_T = TypeVar("_T")
Labels = dict[str, str]


class PrometheusUnavailable(TemporaryError):
    """Prometheus could not answer now (refused, timed out, overloaded, 5xx): retry later."""


class PrometheusQueryError(PermanentError):
    """The query, the URL or the data cannot give a trace; the same call will fail again."""


class SeriesCountError(PrometheusQueryError):
    """The query selected zero or several series; ``count`` says how many."""

    def __init__(self, message: str, count: int) -> None:
        super().__init__(message)
        self.count = count


class _BadAnswer(ValueError):
    """The body of an answer breaks a rule of the edge (raised in the response hook)."""


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
    """Prometheus' own ``error`` text from the repr of a response body, else the body's start; one short line.

    ``body`` is the client's ``repr(response.content)``: decoded only if it is one flat bytes literal
    of bounded length, then parsed as strict bounded JSON (a deeply nested or huge body is just cut).
    """
    raw: object = None
    if len(body) <= 4 * MAX_ERROR_BYTES + 3 and _BYTES_REPR.fullmatch(body):
        try:
            raw = ast.literal_eval(body)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raw = None
    if not isinstance(raw, bytes):
        return escaped(body, MESSAGE_CHARS)
    try:
        decoded = strict_json(raw, max_bytes=MAX_ERROR_BYTES)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):
        return escaped(decoded["error"], MESSAGE_CHARS)
    return escaped(raw.decode("utf-8", "replace"), MESSAGE_CHARS)


def _utc_seconds(moment: datetime) -> int:
    # No zone means UTC (as in csvtrace); the client sends whole seconds, so truncate here
    # where the grid is defined rather than let it round each chunk on its own.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp())


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class _BoundedBody:
    """A ``requests`` response hook that reads the body itself: at most :data:`MAX_ANSWER_BYTES` of a 200
    (more is refused, as is a body that is not strict bounded JSON), the first :data:`MAX_ERROR_BYTES` of
    anything else, and all within ``timeout_s`` (``requests`` bounds each read, not their sum: a server
    sending a byte a second would hold the tick for ever).

    Hooks run before ``requests`` reads the body, so a giant answer never reaches memory whole, and the
    client's own ``response.json()`` only ever sees a body that passed :func:`strict_json` (no
    RecursionError, no 5,000-digit number).
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        ok = response.status_code == 200
        limit = MAX_ANSWER_BYTES if ok else MAX_ERROR_BYTES
        declared = response.headers.get("Content-Length", "")
        # isascii: "²".isdigit() too, and int() refuses it
        if ok and declared.isascii() and declared.isdigit() and (len(declared) > 15 or int(declared) > limit):
            response.close()
            raise _BadAnswer(f"answer of more than {limit:,} bytes (Content-Length {shown(declared, 20)}): does "
                             "the query select many series? aggregate them")
        body = self._read(response, limit, cut=not ok)
        # requests keeps a read body here; setting it is how a hook hands back what it read.
        response._content = body
        response._content_consumed = True
        if ok:
            try:
                strict_json(body, max_bytes=limit)
            except ValueError as exc:
                raise _BadAnswer(f"not a Prometheus API answer (is the URL right?): {exc}") from None
            response.encoding = "utf-8"  # what strict_json read, so the client parses the very same text
        return response

    def _read(self, response: requests.Response, limit: int, *, cut: bool) -> bytes:
        deadline = time.monotonic() + self.timeout_s
        body = bytearray()
        for chunk in response.iter_content(64 * 1024):
            body += chunk
            if len(body) > limit:
                response.close()
                if cut:
                    return bytes(body[:limit])
                raise _BadAnswer(f"answer of more than {limit:,} bytes: does the query select many series? "
                                 "aggregate them")
            if time.monotonic() > deadline:
                response.close()
                raise requests.exceptions.ReadTimeout(f"answer not complete within {self.timeout_s} s")
        return bytes(body)


def _bound(client: PrometheusConnect, timeout_s: float) -> None:
    """Put :class:`_BoundedBody` on ``client``'s session (once), whoever made the client."""
    session = getattr(client, "_session", None)  # the client exposes its session only by this name
    if isinstance(session, requests.Session):
        hooks = session.hooks.setdefault("response", [])
        if not any(isinstance(h, _BoundedBody) for h in hooks):
            hooks.append(_BoundedBody(timeout_s))


# --- the answer's shape ----------------------------------------------------------------------------------

def _series_list(result: Any) -> list[dict[str, Any]]:
    """``data.result`` as a list of series objects (at most :data:`MAX_SERIES`)."""
    if not isinstance(result, list):
        raise ValueError(f"data.result: must be a list of series, got {shown(result)}")
    if len(result) > MAX_SERIES:
        raise ValueError(f"data.result: {len(result):,} series, at most {MAX_SERIES:,}: aggregate them")
    for i, item in enumerate(result):
        if not isinstance(item, dict):
            raise ValueError(f"data.result[{i}]: must be a series object, got {shown(item)} (a scalar or string "
                             "result? wrap the query in vector())")
    return result


def _labels(where: str, item: dict[str, Any]) -> Labels:
    metric = item.get("metric")
    if not isinstance(metric, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metric.items()):
        raise ValueError(f"{where}.metric: must be an object of label names to text, got {shown(metric)}")
    return metric


def _value(where: str, text: Any) -> float:
    """A sample value: number text as Prometheus writes it ("1.5", "NaN", "+Inf"); "1e400" overflows to inf."""
    if not isinstance(text, str):
        raise ValueError(f"{where}: must be a number as text, got {shown(text)}")
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"{where}: a value of {len(text)} characters, at most {MAX_NUMBER_CHARS}")
    if not text.strip():  # a CSV's empty cell is a missing value; Prometheus always writes a number
        raise ValueError(f"{where}: empty, not a number")
    try:
        return parse_value(text)
    except ValueError:
        raise ValueError(f"{where}: not a number: {shown(text)}") from None


def _sample(where: str, pair: Any, lo_s: float, hi_s: float) -> tuple[float, float]:
    """``(time_s, value)`` of a ``[time, "value"]`` pair whose time is within ``[lo_s, hi_s]``."""
    if not isinstance(pair, list) or len(pair) != 2:
        raise ValueError(f"{where}: must be a [time, value] pair, got {shown(pair)}")
    t = epoch(f"{where}[0]", pair[0])
    if not lo_s <= t <= hi_s:
        raise ValueError(f"{where}[0]: {_iso(t)} is outside the range asked, {_iso(lo_s)}…{_iso(hi_s)}")
    return t, _value(f"{where}[1]", pair[1])


Samples = tuple[list[float], list[float]]  # (times_s, values) of one series


def _range_series(result: Any, first_s: float, last_s: float, step_s: float) -> dict[tuple[tuple[str, str], ...],
                                                                                         Samples]:
    """The series of a range answer for ``first_s…last_s`` every ``step_s``: labels → (times, values).

    Times must lie within the range widened by a step at each end, so at most one sample per step of
    that (a proxy's duplicates or a wrong range are refused, never stretched onto the grid).
    """
    most = round((last_s - first_s) / step_s) + 3
    out: dict[tuple[tuple[str, str], ...], Samples] = {}
    for i, item in enumerate(_series_list(result)):
        where = f"data.result[{i}]"
        labels = _labels(where, item)
        pairs = item.get("values")
        if not isinstance(pairs, list):
            hint = " (native histograms are not supported)" if "histograms" in item else ""
            raise ValueError(f"{where}.values: must be a list of [time, value] pairs, got {shown(pairs)}{hint}")
        if len(pairs) > most:
            raise ValueError(f"{where}.values: {len(pairs):,} samples for {most - 2:,} steps asked")
        times, values = out.setdefault(tuple(sorted(labels.items())), ([], []))
        for j, pair in enumerate(pairs):
            t, v = _sample(f"{where}.values[{j}]", pair, first_s - step_s, last_s + step_s)
            times.append(t)
            values.append(v)
    return out


def _instant_series(result: Any) -> list[tuple[Labels, float]]:
    """The ``(labels, value)`` of each series of an instant answer (its time only checked to be sane:
    Prometheus stamps the evaluation time asked, proxies may round it)."""
    out: list[tuple[Labels, float]] = []
    for i, item in enumerate(_series_list(result)):
        where = f"data.result[{i}]"
        labels = _labels(where, item)
        if "value" not in item and "values" in item:
            raise ValueError(f"{where}: a range vector; an instant query needs an instant vector")
        out.append((labels, _sample(f"{where}.value", item.get("value"), EARLIEST_S, LATEST_S)[1]))
    return out


# --- the source ------------------------------------------------------------------------------------------

class PrometheusSource:
    """Fetch one series per call from the Prometheus server at ``url``.

    ``timeout_s`` bounds each HTTP request, in seconds (and the reading of each answer's body). The
    default client does not retry: a :class:`PrometheusUnavailable` goes back to the caller, who owns the
    back-off. A ``client`` given is used with the same bounded reading of answers.
    """

    def __init__(self, url: str, timeout_s: float = 30.0, client: PrometheusConnect | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        # No retries (read=False also keeps a read timeout a Timeout, not a ConnectionError).
        self.client = client if client is not None else PrometheusConnect(
            url=self.url, retry=Retry(0, read=False), session=requests.Session())
        _bound(self.client, timeout_s)

    def fetch(self, query: str, start: datetime, end: datetime, step_s: float) -> Trace:
        """Evaluate ``query`` at ``start, start + step_s, …, ≤ end`` (whole seconds; no zone = UTC).

        ``step_s`` must be a whole number of seconds ≥ 1 because the client sends whole-second
        times. Longer ranges are split into queries of at most ``MAX_STEPS_PER_QUERY`` points.
        """
        start_s, n_slots, (times, values) = self._samples(query, start, end, step_s)
        try:
            return regularise(query, np.asarray(times), np.asarray(values), float(start_s), float(step_s), n_slots)
        except TraceError as exc:
            raise PrometheusQueryError(f"query {exc}") from exc

    def grid(self, query: str, start: datetime, end: datetime, step_s: float) -> FloatArray:
        """Like :meth:`fetch`, but unrepaired: one value per slot as Prometheus gave it (NaN and ±Inf
        included), NaN where none.

        A query that selects no series gives all NaN (the live loop treats that as missing data).
        """
        try:
            start_s, n_slots, (times, values) = self._samples(query, start, end, step_s)
        except SeriesCountError as exc:
            if exc.count:
                raise
            return np.full(self._slots(start, end, step_s)[1], np.nan)
        slots = np.rint((np.asarray(times) - start_s) / step_s).astype(np.int64)  # times are sane: no overflow
        inside = (slots >= 0) & (slots < n_slots)
        out = np.full(n_slots, np.nan)
        out[slots[inside]] = np.asarray(values)[inside]
        return out

    @staticmethod
    def _slots(start: datetime, end: datetime, step_s: float) -> tuple[int, int]:
        if not (step_s >= 1 and float(step_s).is_integer()):
            raise ValueError(f"step_s must be a whole number of seconds >= 1, got {step_s!r}")
        start_s, end_s = _utc_seconds(start), _utc_seconds(end)
        if end_s < start_s:
            raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
        return start_s, (end_s - start_s) // int(step_s) + 1

    def _samples(self, query: str, start: datetime, end: datetime, step_s: float) -> tuple[int, int, Samples]:
        """``(start_s, n_slots, (times_s, values))`` of the one series ``query`` selects."""
        start_s, n_slots = self._slots(start, end, step_s)
        series: dict[tuple[tuple[str, str], ...], Samples] = {}
        for first in range(0, n_slots, MAX_STEPS_PER_QUERY):
            last = min(first + MAX_STEPS_PER_QUERY, n_slots) - 1  # chunks share no slot: no duplicates
            chunk = self._range_chunk(query, start_s + first * step_s, start_s + last * step_s, step_s)
            for labels, (times, values) in chunk.items():
                got = series.setdefault(labels, ([], []))
                got[0].extend(times)
                got[1].extend(values)
        if not series:
            raise SeriesCountError(f"query returned no series: {query}", 0)
        if len(series) > 1:
            named = ", ".join("{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}" for labels in list(series)[:3])
            raise SeriesCountError(
                f"query returned {len(series)} series ({shown(named, 300)}{', …' if len(series) > 3 else ''}); "
                f"a trace needs exactly one: aggregate them, e.g. sum({query})",
                len(series),
            )
        (samples,) = series.values()
        return start_s, n_slots, samples

    def instant(self, query: str, at: datetime) -> float | None:
        """The value of ``query`` at ``at`` (``/api/v1/query``); None if it selects no series.

        The value is returned as Prometheus gave it, NaN, ±Inf or negative included: the caller decides
        what an unusable sample means. Several series raise :class:`SeriesCountError`.
        """
        result = self.instant_series(query, at)
        if not result:
            return None
        if len(result) > 1:
            raise SeriesCountError(
                f"query returned {len(result)} series; a target needs exactly one: aggregate them, "
                f"e.g. sum({query})", len(result))
        return result[0][1]

    def instant_series(self, query: str, at: datetime) -> list[tuple[Labels, float]]:
        """Every series ``query`` selects at ``at``: ``(labels, value)`` pairs (``/api/v1/query``), at most
        :data:`MAX_SERIES`; values as Prometheus gave them (NaN and ±Inf included)."""
        return self._answer(query, partial(self._query_instant, query, at), _instant_series)

    def _answer(self, query: str, call: Callable[[], Any], check: Callable[[Any], _T]) -> _T:
        """``check(call())``: the client's failures translated, the answer's shape checked (ValueError → a
        :class:`PrometheusQueryError` naming the field)."""
        with self._translated(query):
            result = call()
        try:
            return check(result)
        except ValueError as exc:
            raise PrometheusQueryError(f"{self._where(query)}: bad answer: {exc}") from exc

    def _range_chunk(self, query: str, first_s: float, last_s: float, step_s: float
                     ) -> dict[tuple[tuple[str, str], ...], Samples]:
        return self._answer(query, partial(self._query_range, query, first_s, last_s, step_s),
                            partial(_range_series, first_s=first_s, last_s=last_s, step_s=step_s))

    def _query_instant(self, query: str, at: datetime) -> Any:
        return self.client.custom_query(
            query, params={"time": str(_utc_seconds(at))},
            timeout=self.timeout_s,  # type: ignore[arg-type]  # annotated int, passed on to requests (float ok)
        )

    def _query_range(self, query: str, start_s: float, end_s: float, step_s: float) -> Any:
        return self.client.custom_query_range(
            query,
            start_time=datetime.fromtimestamp(start_s, tz=UTC),
            end_time=datetime.fromtimestamp(end_s, tz=UTC),
            step=repr(float(step_s)),  # repr keeps every digit; Prometheus parses "60.0" as seconds
            timeout=self.timeout_s,  # type: ignore[arg-type]  # as in _query_instant
        )

    def _where(self, query: str) -> str:
        return f"{self.url}: query {shown(query, 200)}"

    @contextmanager
    def _translated(self, query: str) -> Iterator[None]:
        """Turn the client's and ``requests``' exceptions into temporary/permanent errors (cause kept)."""
        where = self._where(query)
        try:
            yield
        except _BadAnswer as exc:  # from the response hook: too large, or not strict JSON
            raise PrometheusQueryError(f"{where}: {exc}") from exc
        except PrometheusApiClientException as exc:
            text = str(exc)[: 4 * MAX_ERROR_BYTES + 64]  # a client without our hook may hold a huge body
            match = _HTTP_ERROR.match(text)
            status = int(match[1]) if match else 0
            detail = _prometheus_message(match[2]) if match else escaped(text, MESSAGE_CHARS)
            # 408/429/5xx: overloaded, restarting or a failing proxy in between; all else is the request.
            if status in (408, 429) or status >= 500:
                raise PrometheusUnavailable(f"{where}: HTTP {status}: {detail}") from exc
            raise PrometheusQueryError(f"{where}: HTTP {status}: {detail}") from exc
        except requests.exceptions.SSLError as exc:  # a ConnectionError, but retrying will not fix a certificate
            raise PrometheusQueryError(f"{where}: TLS failed: {shown(str(exc), MESSAGE_CHARS)}") from exc
        except requests.Timeout as exc:
            raise PrometheusUnavailable(f"{where}: no answer within {self.timeout_s} s") from exc
        except (requests.ConnectionError, requests.exceptions.RetryError,
                requests.exceptions.ChunkedEncodingError) as exc:
            raise PrometheusUnavailable(f"{where}: cannot reach Prometheus ({type(exc).__name__})") from exc
        except (requests.exceptions.JSONDecodeError, KeyError, TypeError, IndexError) as exc:
            # The client's response.json()["data"]["result"] on a 200 that is not an API answer.
            raise PrometheusQueryError(f"{where}: not a Prometheus API answer (is the URL right?)") from exc
        except requests.RequestException as exc:  # malformed URL, bad gzip, redirect loop and the like
            raise PrometheusQueryError(f"{where}: {shown(str(exc), MESSAGE_CHARS)}") from exc
