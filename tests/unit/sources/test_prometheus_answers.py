"""PrometheusSource against hostile answers: the real source and the real ``PrometheusConnect`` client over
HTTP, served by a canned server on 127.0.0.1. Every failure is a PrometheusQueryError (the answer is
wrong: fixing waits on a person) or PrometheusUnavailable (retry later), with a short message naming
what is wrong; nothing else escapes.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from forecastscale.devtools.prometheus import Answer, CannedPrometheus
from forecastscale.sources.dcgm import unhealthy_gpus
from forecastscale.sources.prometheus import (
    MAX_ANSWER_BYTES,
    MAX_SERIES,
    PrometheusQueryError,
    PrometheusSource,
    PrometheusUnavailable,
    SeriesCountError,
)

START = datetime(2026, 6, 1, tzinfo=UTC)  # pinned: nothing here depends on the day it runs
START_S = int(START.timestamp())
STEP_S = 60
N = 10  # slots asked: START … START + 9 min
END = START + timedelta(seconds=(N - 1) * STEP_S)
LONG_MESSAGE = 600  # no error message repeats more than this of what the server sent


@pytest.fixture(scope="module")
def fake() -> Iterator[CannedPrometheus]:
    with CannedPrometheus() as server:
        yield server


@pytest.fixture
def source(fake: CannedPrometheus) -> PrometheusSource:
    return PrometheusSource(fake.url, timeout_s=2)


def body(result: Any, result_type: str = "matrix") -> bytes:
    return json.dumps({"status": "success", "data": {"resultType": result_type, "result": result}}).encode()


def pairs(n: int = N, value: str = "5") -> list[list[Any]]:
    return [[START_S + i * STEP_S, value] for i in range(n)]


def ranged(**item: Any) -> bytes:
    """A one-series range answer; ``item`` replaces (or, as ``None``, removes) the series' keys."""
    series: dict[str, Any] = {"metric": {"target": "chat"}, "values": pairs()}
    series.update(item)
    return body([{k: v for k, v in series.items() if v is not None}])


def instant_answer(**item: Any) -> bytes:
    series: dict[str, Any] = {"metric": {"target": "chat"}, "value": [START_S, "5"]}
    series.update(item)
    return body([{k: v for k, v in series.items() if v is not None}], "vector")


def _fails(exc_info: pytest.ExceptionInfo[Exception], pattern: str) -> None:
    message = str(exc_info.value)
    assert len(message) < LONG_MESSAGE, message
    assert pattern in message, message
    assert exc_info.value.__cause__ is not None  # raised `from` what the client or the check said


# --- range answers: fetch and grid --------------------------------------------------------------------

RANGE_SHAPES = {
    "result-not-a-list": (body({"a": 1}), "data.result: must be a list"),
    "item-not-a-dict": (body([[START_S, "1"]]), "data.result[0]: must be a series object"),
    "metric-missing": (ranged(metric=None), "data.result[0].metric"),
    "metric-not-a-dict": (ranged(metric=["a"]), "data.result[0].metric"),
    "label-value-not-text": (ranged(metric={"a": 1}), "data.result[0].metric"),
    "values-missing": (ranged(values=None), "data.result[0].values: must be a list"),
    "native-histograms": (ranged(values=None, histograms=[]), "native histograms are not supported"),
    "values-not-a-list": (ranged(values="1,2"), "data.result[0].values: must be a list"),
    "pair-too-short": (ranged(values=[[START_S]]), "data.result[0].values[0]: must be a [time, value] pair"),
    "pair-not-a-list": (ranged(values=[{"t": START_S}]), "values[0]: must be a [time, value] pair"),
    "time-as-text": (ranged(values=[[str(START_S), "1"]]), "values[0][0]: must be a number"),
    "time-a-bool": (ranged(values=[[True, "1"]]), "values[0][0]: must be a number"),
    "time-1e18": (ranged(values=[[1e18, "1"]]), "values[0][0]: must be a time between"),
    "time-in-ms": (ranged(values=[[START_S * 1000, "1"]]), "looks like epoch milliseconds"),
    "time-before-range": (ranged(values=[[START_S - 2 * STEP_S, "1"]]), "outside the range asked"),
    "time-after-range": (ranged(values=[[START_S + (N + 1) * STEP_S, "1"]]), "outside the range asked"),
    "value-a-number": (ranged(values=[[START_S, 1.5]]), "values[0][1]: must be a number as text"),
    "value-null": (ranged(values=[[START_S, None]]), "values[0][1]: must be a number as text"),
    "value-not-numeric": (ranged(values=[[START_S, "lots"]]), "values[0][1]: not a number: 'lots'"),
    "value-too-long": (ranged(values=[[START_S, "1" * 500]]), "a value of 500 characters"),
    "too-many-samples": (ranged(values=pairs(N) * 3), "30 samples for 10 steps asked"),
    "data-missing": (b'{"status":"success"}', "not a Prometheus API answer"),
    "top-level-array": (b"[1, 2]", "not a Prometheus API answer"),
    "json-nan-constant": (ranged(values=[[float("nan"), "1"]]), "NaN is not a JSON number"),
    "json-number-5000-digits": (b'{"data":{"result":[{"metric":{},"values":[[' + b"1" * 5000 + b',"1"]]}]}}',
                                "a number of 5000 characters"),
    "json-number-overflows": (ranged(values=[[START_S, "1"]]).replace(str(START_S).encode(), b"1e400"),
                              "overflows a float"),
    "deeply-nested": (b'{"data":{"result":' + b"[" * 100_000 + b"]" * 100_000 + b"}}", "nested 100002 levels"),
    "not-utf8": (b'{"data":{"result":[{"metric":{"a":"\xff\xfe"},"values":[]}]}}', "not UTF-8"),
    "truncated": (ranged()[:-5], "not valid JSON"),
}


@pytest.mark.parametrize("method", ["fetch", "grid"])
@pytest.mark.parametrize("shape", list(RANGE_SHAPES))
def test_a_malformed_range_answer_is_a_query_error_naming_the_field(
        fake: CannedPrometheus, source: PrometheusSource, method: str, shape: str) -> None:
    answer, pattern = RANGE_SHAPES[shape]
    fake.answer = Answer(200, answer)
    with pytest.raises(PrometheusQueryError) as info:
        getattr(source, method)("q", START, END, STEP_S)
    _fails(info, pattern)


def test_nan_inf_and_overflowing_values_are_missing_in_fetch_and_kept_as_given_in_grid(
        fake: CannedPrometheus, source: PrometheusSource) -> None:
    values = pairs()
    values[2][1], values[3][1], values[4][1], values[5][1] = "NaN", "+Inf", "-Inf", "1e400"
    fake.answer = Answer(200, ranged(values=values))
    trace = source.fetch("q", START, END, STEP_S)
    assert trace.report.missing_values == 4 and np.all(trace.values == 5.0)
    grid = source.grid("q", START, END, STEP_S)
    assert math.isnan(grid[2]) and grid[3] == math.inf and grid[4] == -math.inf and grid[5] == math.inf
    assert np.all(grid[[0, 1, 6, 7, 8, 9]] == 5.0)


def test_a_sample_within_a_step_of_the_range_is_accepted_and_left_off_the_grid(
        fake: CannedPrometheus, source: PrometheusSource) -> None:
    fake.answer = Answer(200, ranged(values=[[START_S - STEP_S, "99"], *pairs(), [START_S + N * STEP_S, "99"]]))
    grid = source.grid("q", START, END, STEP_S)
    assert grid.shape == (N,) and np.all(grid == 5.0)


def test_no_series_is_all_nan_in_grid_and_several_are_counted(fake: CannedPrometheus,
                                                              source: PrometheusSource) -> None:
    fake.answer = Answer(200, body([]))
    assert np.all(np.isnan(source.grid("q", START, END, STEP_S)))
    two = [{"metric": {"gpu": str(i)}, "values": pairs()} for i in range(2)]
    fake.answer = Answer(200, body(two))
    with pytest.raises(SeriesCountError) as info:
        source.grid("q", START, END, STEP_S)
    assert info.value.count == 2


def test_100000_series_are_refused_before_any_array_is_built(fake: CannedPrometheus,
                                                              source: PrometheusSource) -> None:
    many = [{"metric": {}, "value": [START_S, "1"]}] * (10 * MAX_SERIES)
    fake.answer = Answer(200, body(many, "vector"))
    with pytest.raises(PrometheusQueryError) as info:
        source.instant_series("q", START)
    _fails(info, f"100,000 series, at most {MAX_SERIES:,}")


# --- the body: size, time, error statuses ---------------------------------------------------------------

@pytest.mark.parametrize("close_delimited", [False, True], ids=["declared", "undeclared"])
def test_an_answer_beyond_the_byte_limit_is_refused_while_reading(
        fake: CannedPrometheus, source: PrometheusSource, close_delimited: bool) -> None:
    fake.answer = Answer(200, b" " * (MAX_ANSWER_BYTES + 1), close_delimited=close_delimited)
    with pytest.raises(PrometheusQueryError) as info:
        source.instant("q", START)
    _fails(info, "answer of more than 8,388,608 bytes")


@pytest.mark.parametrize("declared", ["9" * 5000, "99999999999", "²", "-1", "1e9", "2, 2"])
def test_a_lying_content_length_is_a_typed_error(fake: CannedPrometheus, source: PrometheusSource,
                                                 declared: str) -> None:
    fake.answer = Answer(200, b"{}", headers={"Content-Length": declared})
    with pytest.raises((PrometheusQueryError, PrometheusUnavailable)) as info:
        source.instant("q", START)
    assert len(str(info.value)) < LONG_MESSAGE


def test_an_answer_that_never_ends_is_temporary_within_the_timeout(fake: CannedPrometheus) -> None:
    fake.answer = Answer(200, ranged(), trickle_s=0.1)  # ~2,000 bytes at 160 bytes/s: 12 s
    began = time.monotonic()
    with pytest.raises(PrometheusUnavailable, match=r"no answer within 0\.5 s"):
        PrometheusSource(fake.url, timeout_s=0.5).fetch("q", START, END, STEP_S)
    assert time.monotonic() - began < 3


ERROR_BODIES = {
    "prometheus-error": (b'{"status":"error","errorType":"unavailable","error":"TSDB not ready"}',
                         "HTTP 503: TSDB not ready"),
    "deeply-nested": (b"[" * 200_000 + b"]" * 200_000, "HTTP 503: [[[["),
    "huge": (b'{"error":"' + b"x" * 5_000_000 + b'"}', "HTTP 503: {"),
    "not-utf8": (b"\xff\xfe\x00broken", "HTTP 503: \\ufffd"),
    "error-with-newlines": (b'{"error":"one\\ntwo"}', "HTTP 503: one\\ntwo"),
    "empty": (b"", "HTTP 503: "),
}


@pytest.mark.parametrize("shape", list(ERROR_BODIES))
def test_an_error_body_of_any_shape_gives_a_short_one_line_message(
        fake: CannedPrometheus, source: PrometheusSource, shape: str) -> None:
    answer, pattern = ERROR_BODIES[shape]
    fake.answer = Answer(503, answer)
    with pytest.raises(PrometheusUnavailable) as info:
        source.fetch("q", START, END, STEP_S)
    _fails(info, pattern)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("status", "error"), [(400, PrometheusQueryError), (404, PrometheusQueryError),
                                               (408, PrometheusUnavailable), (429, PrometheusUnavailable),
                                               (502, PrometheusUnavailable), (302, PrometheusQueryError)])
def test_a_status_is_typed_by_what_to_do_next_whatever_the_body(
        fake: CannedPrometheus, source: PrometheusSource, status: int, error: type[Exception]) -> None:
    fake.answer = Answer(status, b"[" * 100_000)
    with pytest.raises(error):
        source.instant("q", START)


# --- instant answers: instant and instant_series ----------------------------------------------------------

INSTANT_SHAPES = {
    "value-missing": (instant_answer(value=None), "data.result[0].value: must be a [time, value] pair"),
    "value-too-long": (instant_answer(value=[START_S, "5", "6"]), "value: must be a [time, value] pair"),
    "value-time-text": (instant_answer(value=["now", "5"]), "value[0]: must be a number"),
    "value-time-inf": (instant_answer(value=[1e309, "5"]).replace(b"Infinity", b"1e999"), "overflows a float"),
    "value-not-numeric": (instant_answer(value=[START_S, "five"]), "value[1]: not a number: 'five'"),
    "range-vector": (instant_answer(value=None, values=pairs()), "a range vector"),
    "scalar": (body([START_S, "5"], "scalar"), "a scalar or string result"),
    "metric-not-text": (instant_answer(metric={"gpu": 0}), "data.result[0].metric"),
}


@pytest.mark.parametrize("method", ["instant", "instant_series"])
@pytest.mark.parametrize("shape", list(INSTANT_SHAPES))
def test_a_malformed_instant_answer_is_a_query_error_naming_the_field(
        fake: CannedPrometheus, source: PrometheusSource, method: str, shape: str) -> None:
    answer, pattern = INSTANT_SHAPES[shape]
    fake.answer = Answer(200, answer)
    with pytest.raises(PrometheusQueryError) as info:
        getattr(source, method)("q", START)
    _fails(info, pattern)


def test_instant_values_are_returned_as_given(fake: CannedPrometheus, source: PrometheusSource) -> None:
    for text, expected in (("5", 5.0), ("-2", -2.0), ("+Inf", math.inf), ("1e400", math.inf)):
        fake.answer = Answer(200, instant_answer(value=[START_S, text]))
        assert source.instant("q", START) == expected
    fake.answer = Answer(200, instant_answer(value=[START_S, "NaN"]))
    value = source.instant("q", START)
    assert value is not None and math.isnan(value)
    fake.answer = Answer(200, body([], "vector"))
    assert source.instant("q", START) is None
    assert fake.paths[-1].startswith("/api/v1/query?") and f"time={START_S}" in fake.paths[-1]


def test_gpu_health_counts_only_series_it_can_place(fake: CannedPrometheus, source: PrometheusSource) -> None:
    def gpu(node: str, index: str, value: str = "1") -> dict[str, Any]:
        return {"metric": {"Hostname": node, "gpu": index}, "value": [START_S, value]}

    fake.answer = Answer(200, body([
        gpu("n1", "3"), gpu("n1", "²"), gpu("n1", "9" * 5000), gpu("n1", "-1"), gpu("n1", "٣"),
        gpu("n" * 300, "1"), gpu("n2", "0", "NaN"), gpu("n2", "1", "0"), gpu("n2", "2", "+Inf"), gpu("n2", "4"),
    ], "vector"))
    assert unhealthy_gpus(source, "q", START_S) == {"n1": frozenset({3}), "n2": frozenset({4})}
