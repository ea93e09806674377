"""A real Prometheus server, backfilled with known history, for the integration tests.

The session fixture ``prometheus`` writes an OpenMetrics file, turns it into TSDB blocks with
``promtool tsdb create-blocks-from openmetrics``, starts ``prometheus`` on 127.0.0.1 with no
scrape targets, and yields a :class:`PrometheusServer` describing what was written.

Written series (gauge ``demand_requests_per_second``, one sample every ``STEP_S`` seconds):

* ``{target="chat"}`` and ``{target="batch"}``: ``HISTORY_STEPS`` samples (8 days, more than the
  11,000 points Prometheus allows in one range query) with a daily cycle and seeded noise;
* ``{target="gappy"}``: ``GAPPY`` below, 20 minutes with a gap, a NaN, a negative and a zero.

Missing ``promtool``/``prometheus`` is a failure, not a skip: CI installs them (``.ci/run``).
"""

from __future__ import annotations

import math
import random
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

STEP_S = 60
HISTORY_STEPS = 8 * 1440
METRIC = "demand_requests_per_second"
# Minute offset from the history start → value text; minutes 5–7 are absent (a scrape gap).
GAPPY: dict[int, str] = {i: str(10 * (i + 1)) for i in range(20) if i not in (5, 6, 7)}
GAPPY.update({10: "NaN", 12: "-5", 15: "0"})
READY_TIMEOUT_S = 60.0
# Backfilled blocks must not overlap the head block (the last ~2 h), so history ends well before now.
HISTORY_END_BEFORE_NOW_S = 3 * 3600


@dataclass(frozen=True)
class PrometheusServer:
    """A running server and what it holds; ``written[target]`` is the value at ``start + i·step_s``."""

    url: str
    start: datetime
    end: datetime
    step_s: int
    written: dict[str, list[float]]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of the call)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name!r} not found on PATH: install the Debian package 'prometheus' (.ci/run does)")
    return path


def _demand(target: str, t: int, rng: random.Random) -> float:
    # A daily cycle peaking mid-afternoon UTC, a quieter weekend, and noise; never negative.
    day = 2 * math.pi * ((t % 86400) / 86400 - 0.375)
    base, swing = (40.0, 30.0) if target == "chat" else (12.0, 6.0)
    weekend = 0.7 if datetime.fromtimestamp(t, tz=UTC).weekday() >= 5 else 1.0
    return round(max(0.0, weekend * (base + swing * math.sin(day)) + rng.gauss(0, 2)), 3)


def _write_openmetrics(path: Path, start_s: int) -> dict[str, list[float]]:
    rng = random.Random(20240601)
    written = {t: [_demand(t, start_s + i * STEP_S, rng) for i in range(HISTORY_STEPS)] for t in ("chat", "batch")}
    lines = [f"# HELP {METRIC} Requests per second arriving for a target.", f"# TYPE {METRIC} gauge"]
    for target, values in written.items():  # OpenMetrics: timestamps in seconds; repr round-trips exactly
        lines += [f'{METRIC}{{target="{target}"}} {v!r} {start_s + i * STEP_S}' for i, v in enumerate(values)]
    lines += [f'{METRIC}{{target="gappy"}} {v} {start_s + i * STEP_S}' for i, v in sorted(GAPPY.items())]
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    for _ in range(int(READY_TIMEOUT_S / 0.1)):  # bounded by count and by time
        if proc.poll() is not None:
            pytest.fail(f"prometheus exited with {proc.returncode} before ready:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass  # not listening yet, or 503 while the TSDB loads
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    pytest.fail(f"prometheus not ready within {READY_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """Start a backfilled Prometheus on 127.0.0.1 for the session; stop it afterwards."""
    promtool, server = _tool("promtool"), _tool("prometheus")
    root = tmp_path_factory.mktemp("prometheus")
    end_s = (int(time.time()) - HISTORY_END_BEFORE_NOW_S) // STEP_S * STEP_S
    start_s = end_s - (HISTORY_STEPS - 1) * STEP_S
    written = _write_openmetrics(root / "history.om", start_s)
    data = root / "data"
    # Long blocks: the default 2 h ones make ~100 blocks and take seconds to write.
    backfill = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", "--max-block-duration=240h",
         str(root / "history.om"), str(data)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    if backfill.returncode != 0:
        pytest.fail(f"promtool backfill failed ({backfill.returncode}):\n{backfill.stderr[-3000:]}")
    config = root / "prometheus.yml"
    config.write_text("scrape_configs: []\n", encoding="utf-8")  # no targets: the backfill is all it holds
    url = f"http://127.0.0.1:{free_port()}"
    log = root / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [server, f"--storage.tsdb.path={data}", f"--web.listen-address={url.removeprefix('http://')}",
             f"--config.file={config}",
             # Samples sit exactly on the query grid; a short look-back makes a missing sample a
             # missing point (the 5 min default would repeat the previous one over a gap).
             "--query.lookback-delta=30s"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(url, proc, log)
        yield PrometheusServer(url=url, start=datetime.fromtimestamp(start_s, tz=UTC),
                               end=datetime.fromtimestamp(end_s, tz=UTC), step_s=STEP_S, written=written)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
