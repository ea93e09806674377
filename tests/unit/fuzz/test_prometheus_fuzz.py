"""Property: whatever a server answers, ``PrometheusSource`` returns a correct result or raises
PrometheusQueryError/PrometheusUnavailable — never another exception, never a hang.

Answers are Prometheus-shaped JSON with every field sometimes wrong (times as text, NaN, 1e18,
bools; values that are not number text; pairs of the wrong length; missing keys), arbitrary JSON
and arbitrary bytes, under HTTP 200, 4xx and 5xx. They are served over real HTTP to the real client
(:class:`~forecastscale.devtools.prometheus.CannedPrometheus`). "Correct" is what the fuzz campaign's
surface checks (:mod:`benchmarks.fuzz.prometheus`): a plain reading of the same body gives the same
values on the grid, nothing from outside the range asked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz import prometheus
from forecastscale.devtools.prometheus import Answer, CannedPrometheus
from forecastscale.sources.prometheus import PrometheusQueryError, PrometheusSource, PrometheusUnavailable

START_S = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
STEP_S = 60
N = 6  # slots of every range call
END_S = START_S + (N - 1) * STEP_S
TIMEOUT_S = 2.0
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies: valid shapes, each part sometimes wrong ---------------------------------------------------


def often(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], percent: int) -> st.SearchStrategy[Any]:
    """``good`` in about ``percent`` % of draws, else ``bad``: most answers are valid but for a part or two."""
    return st.integers(0, 99).flatmap(lambda i: good if i < percent else bad)


ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
GOOD_TIME = st.integers(-1, N).map(lambda i: START_S + i * STEP_S)  # the range asked ± a step
TIME = often(GOOD_TIME, st.one_of(
    GOOD_TIME.map(lambda t: t + STEP_S / 2),  # between two slots: fine, rounds to one
    st.sampled_from([1e18, START_S * 1000, -1, 0, START_S - 86400, END_S + 2 * STEP_S]),
    st.floats(), st.integers(), st.text(max_size=12), st.booleans(), st.none(),
), 90)
GOOD_VALUE = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-10**6, 10**6).map(str),
    st.sampled_from(["NaN", "+Inf", "-Inf", "1e400", "-1e400", "-0", " 7 ", "1_000"]),
)
VALUE = often(GOOD_VALUE, st.one_of(st.text(max_size=50), st.floats(), st.integers(), st.booleans(), st.none()), 90)
PAIR = often(st.tuples(TIME, VALUE).map(list), ANY_JSON, 95)
LABELS = often(st.dictionaries(st.sampled_from(["target", "gpu", "Hostname", "x"]), st.text(max_size=6),
                               max_size=3), ANY_JSON, 90)


def _series(key: str, point: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    whole = st.fixed_dictionaries({"metric": LABELS, key: point})
    return often(whole, st.one_of(whole.map(lambda d: {k: v for k, v in d.items() if k != "metric"}),
                                  whole.map(lambda d: {k: v for k, v in d.items() if k != key}), ANY_JSON), 90)


PAIRS = often(st.lists(PAIR, min_size=N - 2, max_size=N + 2), st.lists(PAIR, max_size=N + 2), 70)
RANGE_SERIES = _series("values", often(PAIRS, ANY_JSON, 95))
INSTANT_SERIES = _series("value", PAIR)


def _document(series: st.SearchStrategy[Any], result_type: str) -> st.SearchStrategy[bytes]:
    result = often(often(st.lists(series, min_size=1, max_size=1), st.lists(series, max_size=2), 70), ANY_JSON, 90)
    doc = st.builds(lambda r: {"status": "success", "data": {"resultType": result_type, "result": r}}, result)
    encoded = doc.map(lambda d: json.dumps(d).encode())  # NaN/Infinity tokens included: not JSON
    return often(encoded, st.one_of(
        st.tuples(encoded, st.integers(0, 200)).map(lambda x: x[0][: x[1]]),  # cut short
        ANY_JSON.map(lambda d: json.dumps(d).encode()), st.binary(max_size=300)), 85)


STATUS = often(st.just(200), st.sampled_from([400, 404, 408, 422, 429, 500, 502, 503]), 75)

# --- the property -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[CannedPrometheus]:
    with CannedPrometheus() as server:
        yield server


def call(fake: CannedPrometheus, method: str, status: int, body: bytes) -> Any:
    """Serve ``status``/``body`` and call ``method``: a typed error must fit the status and be one short line,
    an accepted answer must match a plain reading of the body; any other exception fails the test."""
    fake.answer = Answer(status, body)
    source = PrometheusSource(fake.url, timeout_s=TIMEOUT_S)
    began = time.monotonic()
    try:
        got = prometheus.call(source, method, START_S, STEP_S, N)
    except (PrometheusQueryError, PrometheusUnavailable) as exc:
        assert prometheus.error_problems(status, exc) == [], str(exc)[:2000]
        event(f"{method}: {type(exc).__name__}")  # --hypothesis-show-statistics: how often each path ran
        return exc
    finally:
        assert time.monotonic() - began < 2 * TIMEOUT_S
    assert status == 200
    if method in prometheus.RANGE:
        assert prometheus.range_problems(method, body, got, START_S, STEP_S, N) == []
    else:
        assert prometheus.instant_problems(method, body, got) == []
    event(f"{method}: answered")
    return got


@SETTINGS
@given(status=STATUS, body=_document(RANGE_SERIES, "matrix"))
def test_range_answers(fake: CannedPrometheus, status: int, body: bytes) -> None:
    call(fake, "grid", status, body)
    call(fake, "fetch", status, body)


@SETTINGS
@given(status=STATUS, body=_document(INSTANT_SERIES, "vector"))
def test_instant_answers(fake: CannedPrometheus, status: int, body: bytes) -> None:
    call(fake, "instant", status, body)
    call(fake, "instant_series", status, body)


@settings(SETTINGS, max_examples=60)
@given(status=STATUS, body=st.binary(max_size=2000))
def test_arbitrary_bytes(fake: CannedPrometheus, status: int, body: bytes) -> None:
    for method in (*prometheus.RANGE, *prometheus.INSTANT):
        call(fake, method, status, body)


@settings(SETTINGS, max_examples=60)
@given(values=st.lists(GOOD_VALUE, min_size=N, max_size=N), labels=st.dictionaries(st.text(max_size=5),
                                                                                   st.text(max_size=5), max_size=3))
def test_valid_answers_are_read(fake: CannedPrometheus, values: list[str], labels: dict[str, str]) -> None:
    """The control: the property is not met by refusing everything."""
    pairs = [[START_S + i * STEP_S, v] for i, v in enumerate(values)]
    matrix = {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": labels, "values": pairs}]}}
    assert not isinstance(call(fake, "grid", 200, json.dumps(matrix).encode()), Exception)
    vector = {"status": "success", "data": {"resultType": "vector",
                                            "result": [{"metric": labels, "value": pairs[0]}]}}
    assert not isinstance(call(fake, "instant", 200, json.dumps(vector).encode()), Exception)
    assert not isinstance(call(fake, "instant_series", 200, json.dumps(vector).encode()), Exception)
