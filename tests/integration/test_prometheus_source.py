"""PrometheusSource against a real Prometheus server (see ``conftest.py`` for what it holds)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from prometheus_api_client.exceptions import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect

from forecastscale.errors import PermanentError, TemporaryError
from forecastscale.sources.prometheus import (
    MAX_STEPS_PER_QUERY,
    PrometheusQueryError,
    PrometheusSource,
    PrometheusUnavailable,
    SeriesCountError,
)
from tests.integration.conftest import HISTORY_STEPS, METRIC, PrometheusServer, free_port

CHAT = f'{METRIC}{{target="chat"}}'
AT = datetime(2026, 6, 1, tzinfo=UTC)  # for the servers below that hold nothing: any fixed time will do


class CountingClient(PrometheusConnect):
    """The real client, recording the (start, end, step) of every range query it sends."""

    def __init__(self, url: str) -> None:
        super().__init__(url=url)
        self.calls: list[tuple[datetime, datetime, str]] = []

    def custom_query_range(self, query: str, start_time: datetime, end_time: datetime, step: str,
                           params: dict[str, Any] | None = None, timeout: int | None = None) -> Any:
        self.calls.append((start_time, end_time, step))
        return super().custom_query_range(query, start_time, end_time, step, params, timeout)  # type: ignore[arg-type]


def test_fetch_matches_written_samples_on_the_grid(prometheus: PrometheusServer) -> None:
    n = 2 * 1440 + 1  # two days, both ends included
    end = prometheus.start + timedelta(seconds=(n - 1) * prometheus.step_s)
    trace = PrometheusSource(prometheus.url).fetch(CHAT, prometheus.start, end, prometheus.step_s)
    assert trace.start == prometheus.start
    assert trace.step_s == prometheus.step_s
    np.testing.assert_array_equal(trace.values, prometheus.written["chat"][:n])
    r = trace.report
    assert (r.rows, r.unsorted_rows, r.duplicates, r.missing_values, r.negative_values, r.filled_slots) == (
        n, 0, 0, 0, 0, 0)
    assert trace.name == CHAT


def test_range_beyond_one_query_limit_is_fetched_in_chunks_and_complete(prometheus: PrometheusServer) -> None:
    client = CountingClient(prometheus.url)
    # Prometheus itself refuses the whole range at once, so only chunking can pass this test.
    with pytest.raises(PrometheusApiClientException, match="11,000"):
        client.custom_query_range(CHAT, prometheus.start, prometheus.end, str(prometheus.step_s))
    client.calls.clear()
    trace = PrometheusSource(prometheus.url, client=client).fetch(
        CHAT, prometheus.start, prometheus.end, prometheus.step_s)
    assert HISTORY_STEPS > 11_000
    np.testing.assert_array_equal(trace.values, prometheus.written["chat"])
    assert trace.report.filled_slots == 0
    assert len(client.calls) == 2
    points = [round((end - start).total_seconds()) // prometheus.step_s + 1 for start, end, _ in client.calls]
    assert points == [MAX_STEPS_PER_QUERY, HISTORY_STEPS - MAX_STEPS_PER_QUERY]
    assert client.calls[1][0] - client.calls[0][1] == timedelta(seconds=prometheus.step_s)  # no gap, no overlap


def test_gaps_nan_and_negative_are_repaired_and_counted_like_csv(prometheus: PrometheusServer) -> None:
    # GAPPY holds 10·(minute+1) at minutes 0–19 except: 5–7 absent, 10 NaN, 12 negative, 15 zero.
    start = prometheus.start - timedelta(minutes=2)  # two leading and two trailing empty slots
    trace = PrometheusSource(prometheus.url).fetch(
        f'{METRIC}{{target="gappy"}}', start, start + timedelta(minutes=23), 60)
    expected = [10.0, 10.0] + [10.0 * (i + 1) for i in range(20)] + [200.0, 200.0]
    expected[2 + 15] = 0.0
    np.testing.assert_allclose(trace.values, expected)
    r = trace.report
    assert (r.rows, r.missing_values, r.negative_values, r.zero_values) == (17, 1, 1, 1)
    assert r.filled_slots == 2 + 3 + 1 + 1 + 2  # leading, gap, NaN, negative, trailing


def test_query_without_series_is_a_permanent_error(prometheus: PrometheusServer) -> None:
    query = f'{METRIC}{{target="nope"}}'
    with pytest.raises(SeriesCountError, match=r"^query returned no series: .*target=\"nope\"") as info:
        PrometheusSource(prometheus.url).fetch(query, prometheus.start, prometheus.end, 300)
    assert isinstance(info.value, PermanentError)
    assert info.value.count == 0


def test_query_with_two_series_names_the_count_and_suggests_sum(prometheus: PrometheusServer) -> None:
    query = f'{METRIC}{{target=~"chat|batch"}}'
    source = PrometheusSource(prometheus.url)
    end = prometheus.start + timedelta(hours=1)
    with pytest.raises(SeriesCountError, match=r"returned 2 series .*sum\(demand_requests") as info:
        source.fetch(query, prometheus.start, end, 60)
    assert isinstance(info.value, PermanentError)
    assert info.value.count == 2
    # ... and the suggestion works.
    summed = source.fetch(f"sum({query})", prometheus.start, end, 60)
    np.testing.assert_allclose(summed.values, np.add(prometheus.written["chat"], prometheus.written["batch"])[:61])


def test_bad_query_is_permanent_and_carries_prometheus_message(prometheus: PrometheusServer) -> None:
    with pytest.raises(PrometheusQueryError, match=r"HTTP 400: .*parse error") as info:
        PrometheusSource(prometheus.url).fetch("sum(", prometheus.start, prometheus.end, 300)
    assert isinstance(info.value, PermanentError)
    assert isinstance(info.value.__cause__, PrometheusApiClientException)
    assert "b'{" not in str(info.value)  # the error text, not the raw body


def test_unreachable_server_is_temporary() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    now = AT
    with pytest.raises(PrometheusUnavailable, match=r"cannot reach Prometheus") as info:
        PrometheusSource(url, timeout_s=5).fetch("up", now - timedelta(hours=1), now, 60)
    assert isinstance(info.value, TemporaryError)
    assert url in str(info.value)


def test_server_that_never_answers_is_a_temporary_timeout() -> None:
    with socket.socket() as silent:  # the kernel accepts the connection; nobody ever reads it
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        now = AT
        with pytest.raises(PrometheusUnavailable, match=r"no answer within 0.3 s"):
            PrometheusSource(url, timeout_s=0.3).fetch("up", now - timedelta(hours=1), now, 60)


@contextmanager
def _stub(status: int, body: bytes) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering every request with ``status`` and ``body``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("status", "body", "error", "message"), [
    (503, b'{"status":"error","errorType":"unavailable","error":"TSDB not ready"}', PrometheusUnavailable,
     r"HTTP 503: TSDB not ready"),
    (422, b'{"status":"error","errorType":"execution","error":"too many samples"}', PrometheusQueryError,
     r"HTTP 422: too many samples"),
    (200, b"<html>login</html>", PrometheusQueryError, r"not a Prometheus API answer"),
], ids=["5xx-temporary", "422-permanent", "html-permanent"])
def test_http_answers_are_typed_by_what_to_do_next(status: int, body: bytes, error: type[Exception],
                                                   message: str) -> None:
    now = AT
    with _stub(status, body) as url, pytest.raises(error, match=message):
        PrometheusSource(url, timeout_s=5).fetch("up", now - timedelta(hours=1), now, 60)


@pytest.mark.parametrize("step_s", [0.5, 0, 90.5, float("nan")], ids=["sub-second", "zero", "fraction", "nan"])
def test_step_must_be_whole_seconds(step_s: float) -> None:
    now = AT
    with pytest.raises(ValueError, match="whole number of seconds"):
        PrometheusSource("http://127.0.0.1:9").fetch("up", now - timedelta(hours=1), now, step_s)


def test_end_before_start_is_rejected() -> None:
    now = AT
    with pytest.raises(ValueError, match="before start"):
        PrometheusSource("http://127.0.0.1:9").fetch("up", now, now - timedelta(hours=1), 60)
