"""A real Prometheus server, backfilled with known history, for the integration tests.

The session fixture ``prometheus`` writes an OpenMetrics file, turns it into TSDB blocks with
``promtool tsdb create-blocks-from openmetrics``, starts ``prometheus`` on 127.0.0.1 with no
scrape targets, and yields a :class:`PrometheusServer` describing what was written.

Written series (gauge ``demand_requests_per_second``, one sample every ``STEP_S`` seconds, ending at
the pinned :data:`HISTORY_END`):

* ``{target="chat"}`` and ``{target="batch"}``: ``HISTORY_STEPS`` samples (8 days, more than the
  11,000 points Prometheus allows in one range query) with a daily cycle and seeded noise;
* ``{target="stepdown"}``: 100 until the last ``STEPDOWN_STEPS`` samples, then 20;
* ``{target="gappy"}``: ``GAPPY`` below, 20 minutes with a gap, a NaN, a negative and a zero.

Missing ``promtool``/``prometheus`` is a failure, not a skip: CI installs them (``.ci/run``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

import pytest

from forecastscale.devtools.prometheus import (
    HEAD_MARGIN_S,
    LocalPrometheus,
    LocalPrometheusError,
    Series,
    free_port,
    write_openmetrics,
)

__all__ = ["PrometheusServer", "free_port"]

# Every history backfilled for these tests ends at a fixed moment, never relative to the wall clock:
# a test sees the same samples, weekdays and hours of the day whenever it runs. Prometheus measures
# retention from its newest block, not from now, so old history stays queryable (see
# forecastscale.devtools.prometheus). A Sunday 04:00 UTC: an hour before it, where the service tests
# tick, chat's demand is near its weekend trough (~7/s), far below what would lift the HPA to an
# announced event's floor (test_events_and_pools), or to any bound the tests assert.
HISTORY_END = datetime(2026, 5, 31, 4, 0, tzinfo=UTC)
STEP_S = 60
HISTORY_STEPS = 8 * 1440
METRIC = "demand_requests_per_second"
# Minute offset from the history start → value text; minutes 5–7 are absent (a scrape gap).
GAPPY: dict[int, str] = {i: str(10 * (i + 1)) for i in range(20) if i not in (5, 6, 7)}
GAPPY.update({10: "NaN", 12: "-5", 15: "0"})
STEPDOWN_STEPS = 60


@dataclass(frozen=True)
class PrometheusServer:
    """A running server and what it holds; ``written[target]`` is the value at ``start + i·step_s``."""

    url: str
    start: datetime
    end: datetime
    step_s: int
    written: dict[str, list[float]]


def _demand(target: str, t: int, rng: random.Random) -> float:
    # A daily cycle peaking mid-afternoon UTC, a quieter weekend, and noise; never negative.
    day = 2 * math.pi * ((t % 86400) / 86400 - 0.375)
    base, swing = (40.0, 30.0) if target == "chat" else (12.0, 6.0)
    weekend = 0.7 if datetime.fromtimestamp(t, tz=UTC).weekday() >= 5 else 1.0
    return round(max(0.0, weekend * (base + swing * math.sin(day)) + rng.gauss(0, 2)), 3)


def _series(start_s: int) -> tuple[dict[str, list[float]], list[Series]]:
    rng = random.Random(20240601)
    written = {t: [_demand(t, start_s + i * STEP_S, rng) for i in range(HISTORY_STEPS)] for t in ("chat", "batch")}
    # Flat 100 until the last STEPDOWN_STEPS, then 20: a drop that stabilisation must smooth.
    written["stepdown"] = [100.0] * (HISTORY_STEPS - STEPDOWN_STEPS) + [20.0] * STEPDOWN_STEPS
    series = [Series({"target": t}, start_s, STEP_S, v) for t, v in written.items()]
    gappy = [GAPPY.get(i) for i in range(max(GAPPY) + 1)]
    series.append(Series({"target": "gappy"}, start_s, STEP_S, gappy))
    return written, series


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """Start a backfilled Prometheus on 127.0.0.1 for the session; stop it afterwards."""
    root = tmp_path_factory.mktemp("prometheus")
    end_s = int(HISTORY_END.timestamp()) // STEP_S * STEP_S
    start_s = end_s - (HISTORY_STEPS - 1) * STEP_S
    written, series = _series(start_s)
    write_openmetrics(root / "history.om", METRIC, series, "Requests per second arriving for a target.")
    # Samples sit exactly on the query grid; a short look-back makes a missing sample a missing
    # point (the 5 min default would repeat the previous one over a gap).
    with running(LocalPrometheus(root, root / "history.om", lookback_delta="30s")) as server:
        yield PrometheusServer(url=server.url, start=datetime.fromtimestamp(start_s, tz=UTC),
                               end=datetime.fromtimestamp(end_s, tz=UTC), step_s=STEP_S, written=written)


@pytest.fixture
def wall_clock_at_history_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """``forecastscale tune --since`` reads history up to *now*: make its now the pinned history's end plus
    the head margin a live Prometheus keeps, as if the test ran just after the history was written."""
    at = HISTORY_END + timedelta(seconds=HEAD_MARGIN_S)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Frozen:
            return cls.fromtimestamp(at.timestamp(), tz)

    monkeypatch.setattr("forecastscale.cli.tune.datetime", Frozen)


@contextmanager
def running(server: LocalPrometheus) -> Iterator[LocalPrometheus]:
    """Backfill and start ``server``, stop it afterwards; a missing or failing promtool/prometheus fails
    the test, never skips it (CI installs them)."""
    try:
        server.backfill()
        server.start()
    except LocalPrometheusError as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run ``test_rbac_usage.py`` last: it checks the API calls every earlier test made (whatever the
    order of the files or arguments given to pytest; a hook, not a plugin, so nothing to install)."""
    last = [item for item in items if item.path.name == "test_rbac_usage.py"]
    if last:
        items[:] = [item for item in items if item.path.name != "test_rbac_usage.py"] + last
