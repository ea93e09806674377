"""``/metrics``, ``/healthz``, ``/readyz`` (and ``/v1/events`` when configured) on one port (WSGI, a daemon thread).

``/healthz`` answers 200 while the process serves HTTP at all (liveness). ``/readyz`` answers
200 only when every readiness check passes (config loaded, Prometheus answered the last tick,
leadership known: leader or standby), else 503; both bodies are JSON naming each check.
``/metrics`` is prometheus-client's own WSGI app over the service's registry.
"""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

StartResponse = Callable[..., Any]
Checks = Callable[[], Mapping[str, bool]]


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow scraper must not keep the process alive


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the stdlib's name
        pass  # probes every few seconds would drown the decision log


WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def make_app(registry: CollectorRegistry, checks: Checks, mounts: Mapping[str, WsgiApp] | None = None) -> WsgiApp:
    """The WSGI app: ``checks()`` gives the readiness checks by name; ``mounts`` serve their path prefix
    (e.g. ``/v1/events``)."""
    metrics = make_wsgi_app(registry)
    mounted = dict(mounts or {})

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
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
        return _json(start_response, 404, {"error": f"no such path {path!r}; have /metrics /healthz /readyz"})

    return app


def _json(start_response: StartResponse, code: int, body: Mapping[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    phrase = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
    start_response(f"{code} {phrase}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class HttpServer:
    """Serve :func:`make_app` on ``host:port`` (port 0 = any free one) until :meth:`stop`."""

    def __init__(self, host: str, port: int, registry: CollectorRegistry, checks: Checks,
                 mounts: Mapping[str, WsgiApp] | None = None) -> None:
        self._server = make_server(host, port, make_app(registry, checks, mounts), _ThreadingServer, _QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)

    @property
    def port(self) -> int:
        """The port actually bound."""
        return int(self._server.server_address[1])

    def start(self) -> HttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
