"""``/metrics``, ``/healthz``, ``/readyz`` (and ``/v1/events`` when configured) on one port, HTTP or HTTPS.

``/healthz`` answers 200 while the process serves HTTP at all (liveness). ``/readyz`` answers
200 only when every readiness check passes (config loaded, Prometheus answered the last tick,
leadership known: leader or standby), else 503; both bodies are JSON naming each check.
``/metrics`` is prometheus-client's own WSGI app over the service's registry.

Every app, mounted ones included, sees ``REQUEST_METHOD`` in upper case; an exception escaping one is logged
(escaped, its traceback on one line) and answered ``500`` with a JSON body that names nothing of it
(:func:`make_app`, whatever server runs it).

The server is hypercorn (asyncio; HTTP/1.1 by h11, TLS by the stdlib's ``ssl``) in a thread of its own, see
:class:`HttpServer`. Not a thread-pool server (cheroot parked a worker on every half-sent request: 40 such
sockets delayed a probe 20 s), nor uvicorn (no deadline for a request head: 200 sockets that sent half a request
line were all still open 15 s later with ``timeout_keep_alive=1``). hypercorn with the bounds set here, on
127.0.0.1 with 4 workers and a 1 s timeout: 200 such sockets add no thread, a probe meanwhile answers in
1–25 ms, all 200 are closed 1.0–1.1 s after they opened; 50 silent TLS clients likewise, closed at the handshake
timeout. What it leaves out, :class:`_TimedWsgi` adds (tests/unit/service/test_http.py holds all of it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import socket
import ssl
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hypercorn.app_wrappers import WSGIWrapper
from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.typing import ASGIReceiveCallable, ASGIReceiveEvent, ASGISendCallable, ASGISendEvent, HTTPScope
from prometheus_client import CollectorRegistry, make_wsgi_app

from forecastscale.edge import escaped, shown
from forecastscale.errors import ConfigError
from forecastscale.service.tls import CHECK_EVERY_S, ServerCertificate

log = logging.getLogger("forecastscale.http")

StartResponse = Callable[..., Any]
Checks = Callable[[], Mapping[str, bool]]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
DEFAULT_THREADS = 8  # = service.http_threads' default
DEFAULT_TIMEOUT_S = 10.0  # = service.http_timeout_s' default
MAX_HEAD_BYTES = 64 * 1024  # request line and headers (h11's bound; it checks it per 64 kB read)
MAX_BODY_BYTES = 1024 * 1024  # an event is a few hundred bytes
_PHRASES = {200: "OK", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"}


def make_app(registry: CollectorRegistry, checks: Checks, mounts: Mapping[str, WsgiApp] | None = None) -> WsgiApp:
    """The WSGI app: ``checks()`` gives the readiness checks by name; ``mounts`` serve their path prefix
    (e.g. ``/v1/events``)."""
    metrics = make_wsgi_app(registry)
    mounted = dict(mounts or {})

    def route(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        for prefix, sub in mounted.items():
            if path == prefix or path.startswith(prefix + "/"):
                return sub(environ, start_response)
        if path == "/metrics":
            return metrics(environ, start_response)  # type: ignore[no-any-return]
        if path == "/healthz":
            return _json(start_response, 200, {"status": "alive"})
        if path == "/readyz":
            results = dict(checks())
            ready = all(results.values())
            return _json(start_response, 200 if ready else 503, {"ready": ready, "checks": results})
        return _json(start_response, 404, {"error": f"no such path {shown(path)}; have /metrics /healthz /readyz"})

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # Methods are matched in upper case everywhere (a leader-only gate must see "post" as POST).
        environ["REQUEST_METHOD"] = str(environ.get("REQUEST_METHOD") or "GET").upper()
        return _answered(route, environ, start_response)

    return app


def _answered(app: WsgiApp, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    """``app``'s whole answer, or a JSON 500 if it raises (while called or while its body is read): the status
    is passed on only once the body is complete, so a failure midway is still a clean 500."""
    started: list[tuple[Any, ...]] = []
    written: list[bytes] = []

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        started[:] = [(status, headers)]  # PEP 3333: called again (with exc_info) replaces the first
        return written.append

    try:
        body = app(environ, capture)
        try:
            chunks = [*written, *body]
        finally:
            if hasattr(body, "close"):
                body.close()
        if not started:
            raise RuntimeError("the WSGI app returned without calling start_response")
    except Exception:
        log.error("HTTP app failed on %s %s: %s", environ["REQUEST_METHOD"],
                  escaped(str(environ.get("PATH_INFO")), 200), escaped(traceback.format_exc(), 8000))
        return _json(start_response, 500, {"error": "internal server error"})
    start_response(*started[0])
    return chunks


def _json(start_response: StartResponse, code: int, body: Mapping[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(f"{code} {_PHRASES[code]}", [("Content-Type", "application/json"),
                                                 ("Content-Length", str(len(data)))])
    return [data]


class _Refused(Exception):
    """Answer the request ``code`` with a JSON ``reason`` and run no app (None: the client is gone, answer nothing)."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class _TimedWsgi(WSGIWrapper):
    """hypercorn's WSGI adapter with the deadlines it leaves out: the request body must arrive within
    ``timeout_s`` of its head (hypercorn only bounds the gap between two reads) and the answer must be taken
    within ``timeout_s`` of its first byte (hypercorn waits for a client that does not read, holding the worker
    thread); a body over :data:`MAX_BODY_BYTES` is ``413`` before it is read (``Content-Length``) or as soon as it
    is (chunked); a body cut short by a hang-up never reaches the app (hypercorn would run it on the part read)."""

    def __init__(self, app: WsgiApp, timeout_s: float) -> None:
        super().__init__(app, MAX_BODY_BYTES)
        self.timeout_s = timeout_s

    async def handle_http(self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable,
                          sync_spawn: Callable[..., Any], call_soon: Callable[..., Any]) -> None:
        loop = asyncio.get_running_loop()
        body_deadline, answer_deadline = loop.time() + self.timeout_s, 0.0
        received = 0

        async def receive_in_time() -> ASGIReceiveEvent:
            nonlocal received
            try:
                async with asyncio.timeout_at(body_deadline):
                    message = await receive()
            except TimeoutError:
                raise _Refused(408, f"send the request body within {self.timeout_s:g} s") from None
            if message["type"] == "http.disconnect":
                raise _Refused(None)
            received += len(message.get("body", b""))  # type: ignore[arg-type]
            if received > self.max_body_size:
                raise _Refused(413, f"body over {self.max_body_size} bytes")
            return message

        async def send_in_time(message: ASGISendEvent) -> None:
            nonlocal answer_deadline
            answer_deadline = answer_deadline or loop.time() + self.timeout_s
            async with asyncio.timeout_at(answer_deadline):
                await send(message)

        try:
            try:
                if _declared_length(scope) > self.max_body_size:
                    raise _Refused(413, f"body over {self.max_body_size} bytes")
                await super().handle_http(scope, receive_in_time, send_in_time, sync_spawn, call_soon)
            except _Refused as refused:
                if refused.code is not None:
                    await send_in_time(_json_start(refused.code, refused.reason))
                    await send_in_time({"type": "http.response.body", "body": _error_body(refused.reason),
                                        "more_body": False})
        except TimeoutError:
            if not answer_deadline or loop.time() < answer_deadline:
                raise
            log.warning("HTTP client did not take the answer to %s %s within %g s: dropped", scope["method"],
                        escaped(scope["path"], 200), self.timeout_s)


def _declared_length(scope: HTTPScope) -> int:
    """The request's ``Content-Length`` (h11 has checked it is one whole number), 0 without one."""
    return next((int(value) for name, value in scope["headers"] if name == b"content-length"), 0)


def _error_body(reason: str) -> bytes:
    return json.dumps({"error": reason}).encode()


def _json_start(code: int, reason: str) -> ASGISendEvent:
    return {"type": "http.response.start", "status": code, "trailers": False,
            "headers": [(b"content-type", b"application/json"),
                        (b"content-length", str(len(_error_body(reason))).encode())]}


class _Config(Config):
    """hypercorn's config serving our own :class:`ssl.SSLContext` (reloaded in place by :class:`ServerCertificate`)
    instead of one it builds from the files once."""

    def __init__(self, certificate: ServerCertificate | None) -> None:
        super().__init__()
        self.certificate = certificate
        if certificate is not None:  # what hypercorn's ssl_enabled looks at
            self.certfile, self.keyfile = str(certificate.cert_file), str(certificate.key_file)

    def create_ssl_context(self) -> ssl.SSLContext | None:
        return None if self.certificate is None else self.certificate.context


class HttpServer:
    """Serve :func:`make_app` on ``host:port`` (port 0 = any free one) until :meth:`stop`.

    hypercorn on an asyncio event loop in a daemon thread reads every request — the TLS handshake, the head (at most
    :data:`MAX_HEAD_BYTES`, which h11 checks once per 64 kB read; ``431`` beyond) and the body (at most
    :data:`MAX_BODY_BYTES`; ``413``) — costing no thread while it waits; only a complete request goes to the bounded
    pool of ``threads`` worker threads (the loop's default executor, through which hypercorn runs WSGI apps; started
    on demand) that run the app, so a slow or stalled client never holds one and the kubelet's probe is answered as
    soon as a worker is free. A client has ``timeout_s`` seconds to complete the TLS handshake, the same to send the
    head (and again between keep-alive requests), the same to send the body, and the same to take the answer; a
    stalled one is closed. ``TCP_USER_TIMEOUT`` (``timeout_s``) ends a connection whose unread answer sits
    unacknowledged, so a client that stops reading costs nothing either. With ``tls_cert_file`` and ``tls_key_file``
    (PEM; both or neither) it speaks HTTPS only (HTTP/1.1 by ALPN), re-reading them when they change
    (:mod:`forecastscale.service.tls`); plain HTTP also takes HTTP/2 from a client that asks for it (hypercorn's
    own, through the same app wrapper and workers). A port that cannot be bound or a certificate that cannot be
    loaded raises :class:`ConfigError`. Open connections are bounded only by the process's file descriptors: each
    costs ~15 kB and no thread, and a stalled one is closed after ``timeout_s``. Workers are not daemon threads:
    an app call that never returns would delay the interpreter's exit (the kubelet ends the pod at its grace
    period).
    """

    def __init__(self, host: str, port: int, registry: CollectorRegistry, checks: Checks,
                 mounts: Mapping[str, WsgiApp] | None = None, *, threads: int = DEFAULT_THREADS,
                 timeout_s: float = DEFAULT_TIMEOUT_S, tls_cert_file: Path | None = None,
                 tls_key_file: Path | None = None) -> None:
        if threads < 1 or not timeout_s > 0:
            raise ValueError(f"need threads >= 1 and timeout_s > 0, got {threads} and {timeout_s}")
        if (tls_cert_file is None) != (tls_key_file is None):
            raise ConfigError("service", [f"tls_cert_file, tls_key_file: set both or neither, got "
                                          f"{tls_cert_file!s:.200} and {tls_key_file!s:.200}"])
        self.certificate = None if tls_cert_file is None or tls_key_file is None else ServerCertificate(
            tls_cert_file, tls_key_file)
        self._socket = _listen(host, port, timeout_s)
        self.port: int = self._socket.getsockname()[1]  # the port actually bound
        self._app = _TimedWsgi(make_app(registry, checks, mounts), timeout_s)
        self._config = config = _Config(self.certificate)
        config.backlog = 128
        config.keep_alive_timeout = config.ssl_handshake_timeout = timeout_s  # to send the head; idle between requests
        config.read_timeout = math.ceil(timeout_s)  # between two reads; the deadlines above are the tight ones
        config.h11_max_incomplete_size = MAX_HEAD_BYTES
        config.graceful_timeout = timeout_s  # stop(): requests running may finish within it
        config.accesslog, config.errorlog = None, log
        config.include_server_header = False
        name = f"http-{self.port}"  # thread names carry the port: several servers in one process
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix=f"{name}-worker")
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()

    @property
    def scheme(self) -> str:
        """``https`` with a certificate, else ``http``."""
        return "http" if self.certificate is None else "https"

    def start(self) -> HttpServer:
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("the HTTP server's event loop did not start within 10 s")
        return self

    def stop(self) -> None:
        """Stop accepting, close idle connections, let running requests finish (``timeout_s`` at most), end."""
        if self._loop is not None and self._stopping is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(timeout=self._config.graceful_timeout + 5)
        self._socket.close()  # if never served; hypercorn has closed it otherwise
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        with asyncio.Runner() as runner:
            loop = runner.get_loop()
            loop.set_default_executor(self._executor)  # hypercorn runs WSGI apps with run_in_executor(None, ...)
            loop.set_exception_handler(_exception_handler)
            runner.run(self._serve())

    async def _serve(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        sockets = Sockets([self._socket], [], []) if self.certificate else Sockets([], [self._socket], [])
        reload = asyncio.create_task(self._reload_certificate())
        self._ready.set()
        try:
            await worker_serve(self._app, self._config, sockets=sockets, shutdown_trigger=self._stopping.wait)
        finally:
            reload.cancel()

    async def _reload_certificate(self) -> None:
        while self.certificate is not None:
            await asyncio.sleep(CHECK_EVERY_S)
            self.certificate.refresh()


def _exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """asyncio's handler, less a client's own failures: a TLS handshake that failed, a hang-up, a connection ended by
    ``TCP_USER_TIMEOUT`` (hypercorn lets that one escape while it closes)."""
    if isinstance(context.get("exception"), ssl.SSLError | ConnectionError | TimeoutError):
        log.debug("HTTP connection ended: %s", escaped(repr(context.get("exception")), 200))
    else:
        loop.default_exception_handler(context)


def _listen(host: str, port: int, timeout_s: float) -> socket.socket:
    """A listening socket, bound now so a taken port fails at start with the address named. Accepted
    connections inherit its ``TCP_USER_TIMEOUT``: data unacknowledged for ``timeout_s`` ends them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        raise ConfigError("service", [f"http_host, http_port: cannot listen on {host}:{port}: "
                                      f"{exc.strerror or exc}"]) from exc
    if hasattr(socket, "TCP_USER_TIMEOUT"):  # Linux
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, max(1, round(timeout_s * 1000)))
    return sock
