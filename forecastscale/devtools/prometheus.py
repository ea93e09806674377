"""A real, local Prometheus holding backfilled history: for tests, benchmarks and the demo.

History is written as OpenMetrics, turned into TSDB blocks with ``promtool tsdb
create-blocks-from openmetrics`` and served by the Debian ``prometheus`` binary on 127.0.0.1 on a
free port, with no scrape targets. Backfilled blocks may not overlap the head block (the last
~2 h before now), so history should end at least :data:`HEAD_MARGIN_S` before now.

History may sit at any fixed past epoch (tests pin theirs, so they do not depend on the hour they
run): Prometheus measures time-based retention from the newest block's end, not from the wall
clock (``BeyondTimeRetention`` in ``tsdb/db.go``), and the retention is set to 10 years anyway.

:class:`CannedPrometheus` is the opposite: no TSDB, an HTTP server on 127.0.0.1 giving every
request the answer set last (any status, headers and bytes, optionally trickled), to drive the real
client against hostile answers.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Literal, TextIO

READY_TIMEOUT_S = 60.0
HEAD_MARGIN_S = 3 * 3600


class LocalPrometheusError(RuntimeError):
    """promtool or prometheus is missing, failed, or did not become ready."""


@dataclass(frozen=True)
class Series:
    """One series: ``values[i]`` (a number or text such as ``"NaN"``) at ``start_s + i·step_s``.

    ``None`` values are left out (a scrape gap).
    """

    labels: dict[str, str]
    start_s: int
    step_s: int
    values: Sequence[float | str | None] = field(repr=False)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of the call)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tool(name: str) -> str:
    """The path of ``name`` on PATH, or :class:`LocalPrometheusError` saying how to install it."""
    path = shutil.which(name)
    if path is None:
        raise LocalPrometheusError(f"{name!r} not found on PATH: install the Debian package 'prometheus'")
    return path


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))


@dataclass(frozen=True)
class Family:
    """One metric and its series: a ``gauge``, or a ``counter`` (``metric`` then ends in ``_total``, as its samples
    do; OpenMetrics names the family without it). Names may hold colons, as vLLM's ``vllm:`` metrics do."""

    metric: str
    series: Sequence[Series]
    help_text: str = "Backfilled."
    kind: Literal["gauge", "counter"] = "gauge"

    def __post_init__(self) -> None:
        if self.kind == "counter" and not self.metric.endswith("_total"):
            raise ValueError(f"counter {self.metric!r}: OpenMetrics counter samples end in _total")


def write_openmetrics(path: Path, metric: str, series: Iterable[Series], help_text: str = "Backfilled.") -> int:
    """Write ``series`` of gauge ``metric`` as OpenMetrics (times in seconds); returns samples written."""
    return write_families(path, [Family(metric, list(series), help_text)])


def write_families(path: Path, families: Iterable[Family]) -> int:
    """Write several metrics into one OpenMetrics file (one backfill); returns samples written."""
    n = 0
    with path.open("w", encoding="utf-8") as out:
        for f in families:
            name = f.metric.removesuffix("_total") if f.kind == "counter" else f.metric
            out.write(f"# HELP {name} {f.help_text}\n# TYPE {name} {f.kind}\n")
            n += sum(_write_series(out, f.metric, s) for s in f.series)
        out.write("# EOF\n")
    return n


def _write_series(out: TextIO, metric: str, s: Series) -> int:
    head, n = f"{metric}{{{_labels(s.labels)}}} ", 0
    for i, v in enumerate(s.values):
        if v is not None:  # repr round-trips a float exactly; text ("NaN") goes as is
            out.write(f"{head}{v if isinstance(v, str) else repr(float(v))} {s.start_s + i * s.step_s}\n")
            n += 1
    return n


class LocalPrometheus:
    """``with LocalPrometheus(root, openmetrics) as prom: prom.url`` — backfill, start, stop.

    ``lookback_delta`` is Prometheus' ``--query.lookback-delta`` (how long a sample answers queries).
    ``config`` is the text of ``prometheus.yml`` (default: no scrape targets, the backfill is all it
    holds); pass scrape configs to make it scrape, e.g. a ``forecastscale run`` process' ``/metrics``.
    """

    def __init__(self, root: Path, openmetrics: Path, lookback_delta: str = "5m", config: str | None = None) -> None:
        self.root, self.openmetrics, self.lookback_delta = root, openmetrics, lookback_delta
        self.config = "scrape_configs: []\n" if config is None else config
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self.log = root / "prometheus.log"

    def backfill(self) -> None:
        """Turn the OpenMetrics file into TSDB blocks under ``root/data``."""
        # Long blocks: the default 2 h ones make ~100 blocks per 8 days and take seconds to write.
        done = subprocess.run(
            [tool("promtool"), "tsdb", "create-blocks-from", "openmetrics", "--quiet", "--max-block-duration=240h",
             str(self.openmetrics), str(self.root / "data")],
            capture_output=True, text=True, timeout=600, check=False,
        )
        if done.returncode != 0:
            raise LocalPrometheusError(f"promtool backfill failed ({done.returncode}):\n{done.stderr[-3000:]}")

    def start(self, port: int | None = None) -> str:
        """Start the server on ``port`` (default: a free one), wait until ``/-/ready``; returns its URL."""
        config = self.root / "prometheus.yml"
        config.write_text(self.config, encoding="utf-8")
        self.url = f"http://127.0.0.1:{port or free_port()}"
        with self.log.open("wb") as out:
            self._proc = subprocess.Popen(
                [tool("prometheus"), f"--storage.tsdb.path={self.root / 'data'}",
                 f"--web.listen-address={self.url.removeprefix('http://')}", f"--config.file={config}",
                 f"--query.lookback-delta={self.lookback_delta}",
                 # The default 15-day retention would delete backfilled history on start.
                 "--storage.tsdb.retention.time=3650d"],
                stdout=out, stderr=subprocess.STDOUT,
            )
        self._wait_ready()
        return self.url

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        for _ in range(int(READY_TIMEOUT_S / 0.1)):  # bounded by count and by time
            if self._proc.poll() is not None:
                raise LocalPrometheusError(f"prometheus exited with {self._proc.returncode}:\n{self._tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass  # not listening yet, or 503 while the TSDB loads
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.stop()
        raise LocalPrometheusError(f"prometheus not ready within {READY_TIMEOUT_S} s:\n{self._tail()}")

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s); safe to call twice."""
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)

    def __enter__(self) -> LocalPrometheus:
        self.backfill()
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


@dataclass(frozen=True)
class Answer:
    """One canned HTTP answer: ``status``, ``body`` bytes, extra ``headers``.

    ``Content-Length`` is sent as ``len(body)`` unless ``headers`` gives one (a lie, say) or
    ``close_delimited`` (the body then ends when the connection closes). ``trickle_s`` > 0 sends the
    body in 16-byte pieces that far apart (a server that never finishes).
    """

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    close_delimited: bool = False
    trickle_s: float = 0.0


class _CannedHandler(BaseHTTPRequestHandler):
    server: _CannedServer

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        answer = self.server.answer
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if not answer.close_delimited and "content-length" not in {k.lower() for k in answer.headers}:
                self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if answer.trickle_s > 0:
                for i in range(0, len(answer.body), 16):
                    self.wfile.write(answer.body[i:i + 16])
                    self.wfile.flush()
                    time.sleep(answer.trickle_s)
            else:
                self.wfile.write(answer.body)
        except OSError:  # the client gave up (as it should on a giant or endless answer)
            self.close_connection = True

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


class _CannedServer(ThreadingHTTPServer):
    daemon_threads = True  # a trickling handler must not hold the process at exit
    answer = Answer()
    paths: list[str]


class CannedPrometheus:
    """``with CannedPrometheus() as fake: fake.answer = Answer(503, b"..."); PrometheusSource(fake.url)``.

    Every request (any path) gets ``answer``; ``paths`` records the request paths with their query strings.
    """

    def __init__(self) -> None:
        self._server = _CannedServer(("127.0.0.1", 0), _CannedHandler)
        self._server.paths = []
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def answer(self) -> Answer:
        return self._server.answer

    @answer.setter
    def answer(self, value: Answer) -> None:
        self._server.answer = value

    @property
    def paths(self) -> list[str]:
        return self._server.paths

    def __enter__(self) -> CannedPrometheus:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
