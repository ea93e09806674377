"""Every panel query of the committed Grafana dashboards, run against a real Prometheus, returns data.

Live dashboard: a backfilled Prometheus (the *source*) holds the ELB trace of ``data/`` as
``demand_requests_per_second{target="chat"}`` around now; a real ``forecastscale run --dry-run``
process (no cluster) ticks every second against it; a second real Prometheus scrapes that
process' ``/metrics`` every second. After a few scrapes, every target expression of every panel in
``deploy/grafana/forecastscale-live.json`` — template variables replaced by the values their own
``label_values`` queries return, Grafana's ``$__range``/``$__interval``/``$__rate_interval`` by
durations — must parse and return at least one series. A query that returns nothing fails.

What-if dashboard: ``forecastscale backtest --openmetrics`` on three days of the ELB trace (moved to end
at the pinned ``HISTORY_END``) writes the ``forecastscale_replay_*`` series (``run``, ``policy`` labels);
they are backfilled with promtool, and the same is checked for every panel, queried at that end.

The live test alone keeps the wall clock: ``forecastscale run`` ticks on it and the scraper stamps what
it scrapes with it. Its assertions hold at any hour: a panel query must return a series, whatever
the values are (no panel filters on a value, but ``model_info == 1``, which is always 1).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from forecastscale.backtest.runner import POLICIES
from forecastscale.cli import app
from forecastscale.dashboards import panel_queries
from forecastscale.devtools.prometheus import (
    LocalPrometheus,
    LocalPrometheusError,
    Series,
    free_port,
    write_openmetrics,
)
from forecastscale.sources.csvtrace import load_trace
from tests.integration.conftest import HISTORY_END, running

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
TRACE = ROOT / "data" / "elb_request_count_8c0756.csv"
METRIC = "demand_requests_per_second"
WAIT_S = 120.0
MIN_SCRAPES = 8
# Grafana's own variables, as a short test sees them (a few dozen seconds of 1-s scrapes).
GRAFANA_VARS = {"$__rate_interval": "10s", "$__interval": "1s", "$__range": "5m"}


# --- helpers --------------------------------------------------------------------------------------
def api(base: str, path: str, **params: str) -> dict[str, Any]:
    """GET a Prometheus HTTP API path; the decoded body, also for a 400 (bad query)."""
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            body: dict[str, Any] = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read())
    return body


def instant(base: str, expr: str, at_s: float | None = None) -> dict[str, Any]:
    """``expr`` evaluated at ``at_s`` (UNIX seconds; default: now, for live data)."""
    return api(base, "/api/v1/query", query=expr, time=f"{time.time() if at_s is None else at_s:.3f}")


def wait_for(what: str, probe: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    for _ in range(int(timeout_s / 0.5)):  # bounded by count and by time
        try:
            if probe():
                return
        except (urllib.error.URLError, OSError, LookupError, ValueError):
            pass  # not up yet
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")


def dashboard(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GRAFANA / name).read_text(encoding="utf-8"))
    return data


def substitute(text: str, values: dict[str, str]) -> str:
    """Template variables ``$name``/``${name}`` → values (longest names first), then Grafana's own."""
    for name in sorted(values, key=len, reverse=True):
        text = text.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    for name, value in GRAFANA_VARS.items():
        text = text.replace(name, value)
    return text


def variable_values(base: str, data: dict[str, Any]) -> dict[str, str]:
    """Each query variable's first value, from its own ``label_values(selector, label)`` on ``base``."""
    values: dict[str, str] = {}
    for v in data["templating"]["list"]:
        if v["type"] != "query":
            continue
        m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", substitute(v["query"], values))
        assert m, f"variable {v['name']}: unexpected query {v['query']!r}"
        selector, label = m.groups()
        answer = api(base, f"/api/v1/label/{label}/values", **{"match[]": selector})
        assert answer["status"] == "success" and answer["data"], f"variable {v['name']}: {v['query']} → {answer}"
        values[v["name"]] = sorted(answer["data"])[0]
    return values


def empty_or_failed(base: str, data: dict[str, Any], values: dict[str, str], at_s: float | None = None
                    ) -> list[str]:
    """Every panel query that does not parse or returns no series at ``at_s``, as 'title: expr → why'."""
    bad = []
    for title, expr in panel_queries(data):
        query = substitute(expr, values)
        assert "$" not in query, f"{title}: unreplaced variable in {query}"
        answer = instant(base, query, at_s)
        if answer.get("status") != "success":
            bad.append(f"{title}: {query} → {answer.get('errorType')}: {answer.get('error')}")
        elif not answer["data"]["result"]:
            bad.append(f"{title}: {query} → no data")
    return bad


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# --- live -----------------------------------------------------------------------------------------
@pytest.fixture
def source(tmp_path: Path) -> Iterator[str]:
    """The ELB trace (×0.1 → requests/s, 5-min samples), its last two days ending an hour from now (the
    wall clock: the run process reads it live; any hour gives the panels something to show)."""
    root = tmp_path / "source"
    root.mkdir()
    trace = load_trace(TRACE)
    step = int(trace.step_s)
    values = [round(float(v) * 0.1, 4) for v in trace.values[-(2 * 86400 // step):]]
    end = (int(time.time()) + 3600) // step * step
    write_openmetrics(root / "h.om", METRIC, [Series({"target": "chat"}, end - (len(values) - 1) * step, step, values)],
                      "Requests per second (ELB trace, time-shifted).")
    # 5-min samples answer every second
    with running(LocalPrometheus(root, root / "h.om", lookback_delta="30m")) as server:
        yield server.url


def live_config(path: Path) -> Path:
    data = {
        "service": {"tick_s": 1, "queries": {"demand": f'{METRIC}{{target="$target"}}'}, "error_window": 5},
        "node_pools": [{"name": "a100", "gpus_per_node": 8, "max_nodes": 16, "node_startup_s": 5}],
        "targets": [{
            "name": "chat",
            "workload": {"kind": "Deployment", "name": "chat", "namespace": "default", "capacity_per_replica": 1.0,
                         "pod_startup_s": 3, "gpus_per_pod": 1},
            "scaling": {"max_replicas": 120},
            "forecast": {"model": "holt_winters", "quantile": 0.9, "step_s": 300, "season_s": 3600,
                         "window_s": 4 * 3600},
            # an event in force all the time: the events panel has something to show
            "events": {"cron": [{"name": "always", "schedule": "* * * * *", "duration_s": 120, "min_replicas": 2}]},
            "slo": {"metric": "underprovisioned_pct", "target": 1.0},  # the SLO panel has something to show
            "guardrail": {"enabled": True},  # the guardrail panel: shadow scores and the fallen-back state
        }],
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_every_live_panel_query_returns_data_from_prometheus_scraping_a_dry_run(source: str, tmp_path: Path) -> None:
    port = free_port()
    home = tmp_path / "home"  # no ~/.kube/config: dry-run without a cluster
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"} | {"HOME": str(home), "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        run = subprocess.Popen(
            [sys.executable, "-m", "forecastscale", "run", "--dry-run", "--config",
             str(live_config(tmp_path / "c.yaml")), "--prometheus", source, "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    root = tmp_path / "scraper"
    root.mkdir()
    scrape = yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "forecastscale", "scrape_interval": "1s", "scrape_timeout": "1s",
                            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}],
    })
    scraper = LocalPrometheus(root, root / "none.om", config=scrape)
    try:
        try:
            scraper.start()
        except LocalPrometheusError as exc:
            pytest.fail(str(exc))

        def scraped() -> bool:
            assert run.poll() is None, "forecastscale run exited:\n" + log.read_text(errors="replace")[-3000:]
            up = instant(scraper.url, 'sum_over_time(up{job="forecastscale"}[5m])')["data"]["result"]
            return float(up[0]["value"][1]) >= MIN_SCRAPES

        wait_for(f"{MIN_SCRAPES} successful scrapes of the run process", scraped)
        data = dashboard("forecastscale-live.json")
        values = variable_values(scraper.url, data)
        assert values == {"target": "chat", "pool": "a100"}
        # Some series appear only once the model is fitted and its first forecasts are scored.
        bad: list[str] = []

        def all_answer() -> bool:
            nonlocal bad
            bad = empty_or_failed(scraper.url, data, values)
            return not bad

        deadline = time.monotonic() + WAIT_S
        for _ in range(int(WAIT_S)):  # bounded by count and by time
            if all_answer() or time.monotonic() > deadline or run.poll() is not None:
                break
            time.sleep(1)
        assert run.poll() is None, log.read_text(errors="replace")[-3000:]
        tail = log.read_text(errors="replace")[-2000:]
        assert not bad, "panel queries without data:\n" + "\n".join(bad) + "\n" + tail
        assert len(list(panel_queries(data))) >= 20
    finally:
        stop(run)
        scraper.stop()
    assert run.returncode == 0, log.read_text(errors="replace")[-3000:]


# --- what-if --------------------------------------------------------------------------------------
def replay_openmetrics(path: Path, end_s: int, days: int = 3) -> None:
    """What ``backtest --openmetrics`` really writes: the ELB trace's last ``days`` days moved to end
    at ``end_s``, replayed by every default policy (the writer under test is the product's own)."""
    rows = TRACE.read_text(encoding="utf-8").splitlines()[1:]
    step = 300
    tail = rows[-days * 86400 // step:]
    start = end_s - (len(tail) - 1) * step
    csv = path.with_suffix(".csv")
    csv.write_text("timestamp,value\n" + "".join(
        f"{datetime.fromtimestamp(start + i * step, tz=UTC):%Y-%m-%d %H:%M:%S},{r.split(',')[1]}\n"
        for i, r in enumerate(tail)), encoding="utf-8")
    result = CliRunner().invoke(app, ["backtest", "--config", str(ROOT / "data" / "elb_request_count.yaml"), "--trace",
                                      str(csv), "--openmetrics", str(path), "--run", "r1", "--quiet"])
    assert result.exit_code == 0, result.output


def test_every_whatif_panel_query_returns_data_from_backfilled_replay_series(tmp_path: Path) -> None:
    end_s = int(HISTORY_END.timestamp())  # queried here; the replay's last step a minute before
    replay_openmetrics(tmp_path / "replay.om", end_s - 60)
    with running(LocalPrometheus(tmp_path, tmp_path / "replay.om")) as server:
        data = dashboard("forecastscale-whatif.json")
        values = variable_values(server.url, data)
        assert values["run"] == "r1" and values["target"] == "chat-llm" and values["policy"] in POLICIES
        bad = empty_or_failed(server.url, data, values, end_s)
        assert not bad, "panel queries without data:\n" + "\n".join(bad)
        # a query on a run that is not there returns nothing: the check can fail
        assert empty_or_failed(server.url, data, {**values, "run": "no-such-run"}, end_s)
