"""The WSGI app behind /metrics /healthz /readyz, called as a WSGI server would; and the server itself (hypercorn)
on 127.0.0.1: bounded threads under stalled connections, slow bodies and unread answers, upper-case methods,
500s, refused requests, and log records on one line (HTTPS: test_https.py)."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from forecastscale.cli.run import OneLineFormatter, _setup_logging
from forecastscale.errors import ConfigError
from forecastscale.service.http import MAX_BODY_BYTES, HttpServer, make_app
from forecastscale.service.metrics import ServiceMetrics


def call(path: str, checks: Mapping[str, bool]) -> tuple[str, bytes]:
    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry)
    metrics.leader.set(1)
    status: list[str] = []

    def start_response(s: str, headers: list[tuple[str, str]], *_: Any) -> None:
        status.append(s)

    body = b"".join(make_app(registry, lambda: checks)({"PATH_INFO": path, "REQUEST_METHOD": "GET",
                                                        "QUERY_STRING": ""}, start_response))
    return status[0], body


@pytest.mark.parametrize(("checks", "code"), [
    ({"config": True, "prometheus": True, "leadership": True}, "200"),
    ({"config": True, "prometheus": False, "leadership": True}, "503"),
], ids=["ready", "prometheus-down"])
def test_readyz_reflects_every_check(checks: Mapping[str, bool], code: str) -> None:
    status, body = call("/readyz", checks)
    assert status.startswith(code)
    assert json.loads(body)["checks"] == checks


def test_healthz_is_alive_even_when_not_ready() -> None:
    status, _ = call("/healthz", {"prometheus": False})
    assert status.startswith("200")


def test_metrics_serves_the_registry() -> None:
    status, body = call("/metrics", {})
    assert status.startswith("200") and b"forecastscale_leader 1.0" in body


def test_unknown_path_is_404_naming_the_paths() -> None:
    status, body = call("/nope", {})
    assert status.startswith("404") and b"/readyz" in body


# --- the server: bounded threads, timeouts, methods, failures, TLS, one-line logs ------------------------
STALLED = 200  # sockets that send half a request line, then nothing
TIMEOUT_S = 1.0  # the servers' per-connection timeout here: short, so stalled sockets are closed soon
CLOSE_BOUND_S = 30.0  # generous: how long every stalled socket may take to be closed (not a speed goal)
THREADS = 4  # the servers' worker pool here


def echo_method(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = json.dumps({"method": environ["REQUEST_METHOD"], "body": environ["wsgi.input"].read().decode()}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def explode(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    raise RuntimeError("secret detail\nforged line")


def explode_midway(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"half an answer"
    raise RuntimeError("secret detail\nforged line")


BIG = b"x" * (8 << 20)  # far more than a client that does not read takes in


def big(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [BIG]


@pytest.fixture
def server() -> Iterator[HttpServer]:
    srv = HttpServer("127.0.0.1", 0, CollectorRegistry(), lambda: {"ok": True},
                     {"/echo": echo_method, "/explode": explode, "/midway": explode_midway, "/big": big},
                     threads=THREADS, timeout_s=TIMEOUT_S).start()
    yield srv
    srv.stop()


def get(url: str, context: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def raw(port: int, data: bytes) -> bytes:
    """Send ``data`` as is; everything the server answers before it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def closed_by_peer(conn: socket.socket, deadline: float) -> bool:
    """Whether the server closes ``conn`` before ``deadline`` (time.monotonic)."""
    conn.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        return conn.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def http_threads(port: int) -> list[str]:
    """The threads of the server on ``port`` (its loop, ``http-<port>``, and its workers)."""
    return [t.name for t in threading.enumerate() if t.name.startswith(f"http-{port}")]


def test_stalled_connections_hold_no_thread_and_are_closed_while_healthz_answers(server: HttpServer) -> None:
    assert get(f"http://127.0.0.1:{server.port}/healthz")[0] == 200  # a worker exists (they start on demand)
    before = threading.active_count()
    stalled: list[socket.socket] = []
    try:
        for _ in range(STALLED):
            conn = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            conn.sendall(b"GET /heal")  # half a request line, then silence
            stalled.append(conn)
        assert get(f"http://127.0.0.1:{server.port}/healthz") == (200, b'{"status": "alive"}')
        assert threading.active_count() <= before and len(http_threads(server.port)) <= THREADS + 1  # + the loop
        deadline = time.monotonic() + CLOSE_BOUND_S
        still_open = [c for c in stalled if not closed_by_peer(c, deadline)]
        assert not still_open, f"{len(still_open)} stalled connections still open after {CLOSE_BOUND_S} s"
        assert threading.active_count() <= before
    finally:
        for conn in stalled:
            conn.close()
    assert get(f"http://127.0.0.1:{server.port}/healthz")[0] == 200


@pytest.mark.parametrize("method", ["post", "Post", "pOST", "POST"])
def test_methods_reach_mounted_apps_in_upper_case(server: HttpServer, method: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request(method, "/echo", body=b"{}", headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read()) == {"method": "POST", "body": "{}"}
    conn.request("GET", "/healthz")  # the connection is kept alive (idle: closed after the timeout)
    assert conn.getresponse().status == 200
    conn.close()


def test_the_app_upper_cases_the_method_for_any_server() -> None:
    seen: list[str] = []
    app = make_app(CollectorRegistry(), dict, {"/x": lambda env, sr: seen.append(env["REQUEST_METHOD"]) or []})
    app({"PATH_INFO": "/x", "REQUEST_METHOD": "delete"}, lambda *a: None)
    assert seen == ["DELETE"]


def test_an_app_that_raises_gets_a_500_json_and_the_server_keeps_serving(
        server: HttpServer, caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(3 * THREADS):  # more failures than workers: none of them is lost
        for path in ("/explode", "/midway"):  # raising when called, or while the body is read
            code, body = get(f"http://127.0.0.1:{server.port}{path}")
            assert code == 500 and json.loads(body) == {"error": "internal server error"}
            assert b"secret" not in body and b"Traceback" not in body and b"half" not in body
    assert get(f"http://127.0.0.1:{server.port}/healthz")[0] == 200
    failures = [r for r in caplog.records if r.name == "forecastscale.http" and "/explode" in r.getMessage()]
    assert len(failures) == 3 * THREADS
    message = failures[0].getMessage()
    assert "RuntimeError: secret detail\\nforged line" in message and "\n" not in message


@pytest.mark.parametrize(("request_bytes", "code", "ours"), [
    (b"GARBAGE\r\n\r\n", 400, False),
    # h11 checks its 64 kB bound once per 64 kB read, so a head is refused somewhere between 64 and 128 kB
    (b"GET /healthz HTTP/1.1\r\nHost: h\r\nX: " + b"a" * 140_000 + b"\r\n\r\n", 431, False),
    (b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, False),
    (b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999\r\n\r\n", 413, True),  # before any body
    (b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
     + b"%x\r\n" % (MAX_BODY_BYTES + 1) + b"c" * (MAX_BODY_BYTES + 1) + b"\r\n0\r\n\r\n", 413, True),
    (b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc", 408, True),  # the rest never comes
], ids=["request-line", "head-too-long", "two-lengths", "body-too-large", "chunked-too-large", "body-too-slow"])
def test_requests_the_server_refuses_get_a_status(server: HttpServer, request_bytes: bytes, code: int,
                                                 ours: bool) -> None:
    """hypercorn (h11) refuses a malformed request or head itself, with an empty body; the body's limits are
    ours and say why in JSON."""
    started = time.monotonic()
    answer = raw(server.port, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {code} ".encode())
    if ours:
        assert "error" in json.loads(body)
    else:
        assert b"content-length: 0" in head.lower()
    assert time.monotonic() - started < 5 * TIMEOUT_S


def test_a_chunked_body_reaches_the_app(server: HttpServer) -> None:
    answer = raw(server.port, b"post /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                              b"Connection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ") and b'{"method": "POST", "body": "{}"}' in answer


def test_a_body_sent_a_byte_at_a_time_is_cut_off_at_the_timeout(server: HttpServer) -> None:
    """Each byte comes well within the timeout, the whole body does not: 408 (no thread waited for it)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n")
        started, answer = time.monotonic(), b""
        while not answer and time.monotonic() - started < 10 * TIMEOUT_S:
            conn.sendall(b"b")
            time.sleep(TIMEOUT_S / 5)
            conn.setblocking(False)
            try:
                answer = conn.recv(65536)
            except BlockingIOError:
                pass
            finally:
                conn.setblocking(True)
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
        assert time.monotonic() - started < 3 * TIMEOUT_S


def test_clients_that_do_not_read_their_answer_hold_no_worker(server: HttpServer) -> None:
    """More clients than workers ask for a large answer and never read it: each worker is freed at the timeout
    (and TCP_USER_TIMEOUT ends the connection), so a probe is answered soon."""
    readers = []
    try:
        for _ in range(THREADS + 2):
            conn = socket.socket()
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            conn.connect(("127.0.0.1", server.port))
            conn.sendall(b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
            readers.append(conn)
        time.sleep(TIMEOUT_S / 2)
        started = time.monotonic()
        assert get(f"http://127.0.0.1:{server.port}/healthz")[0] == 200
        assert time.monotonic() - started < 5 * TIMEOUT_S
        assert len(http_threads(server.port)) <= THREADS + 1
        deadline = time.monotonic() + CLOSE_BOUND_S
        assert all(closed_by_peer_after_reading(c, deadline) for c in readers)
    finally:
        for conn in readers:
            conn.close()


def closed_by_peer_after_reading(conn: socket.socket, deadline: float) -> bool:
    """Whether the server ends ``conn`` before ``deadline``, whatever it sent first."""
    while time.monotonic() < deadline:
        conn.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if conn.recv(1 << 20) == b"":
                return True
        except (ConnectionResetError, TimeoutError):
            return time.monotonic() < deadline
    return False


def test_a_taken_port_is_a_config_error_naming_it(server: HttpServer) -> None:
    with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{server.port}"):
        HttpServer("127.0.0.1", server.port, CollectorRegistry(), dict)


# --- logs ----------------------------------------------------------------------------------------------------
def test_a_log_record_with_control_characters_formats_as_one_line() -> None:
    formatter = OneLineFormatter("%(levelname)s %(name)s %(message)s")
    record = logging.LogRecord("forecastscale.service", logging.WARNING, __file__, 1, "event %s: %s", (
        "e1", "launch\nINFO forecastscale.service forged\x1b[31m red"), None)
    line = formatter.format(record)
    assert "\n" not in line and "\x1b" not in line
    assert line == "WARNING forecastscale.service event e1: launch\\nINFO forecastscale.service forged\\x1b[31m red"
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        record.exc_info = sys.exc_info()
    with_traceback = formatter.format(record)
    assert "\n" not in with_traceback and "Traceback" in with_traceback and "ValueError: bad\\nvalue" in with_traceback
    decision = json.dumps({"target": "chat", "message": "max(forecast 18) → 5"}, ensure_ascii=False)
    plain = logging.LogRecord("forecastscale.decisions", logging.INFO, __file__, 1, decision, None, None)
    assert formatter.format(plain).endswith(decision)  # JSON lines are printable already: left as they are


def test_the_cli_logs_through_the_one_line_formatter() -> None:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers = []
    try:
        _setup_logging("warning")
        assert [type(h.formatter) for h in root.handlers] == [OneLineFormatter] and root.level == logging.WARNING
    finally:
        root.handlers, root.level = saved, level
