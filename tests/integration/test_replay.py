"""``forecastscale replay`` against a real Prometheus holding a bundled trace, and the what-if loop.

The ELB trace (``data/elb_request_count_8c0756.csv``, 5-min samples) is written as the gauge
``elb_requests{service="chat"}`` at its own times shifted by whole weeks to end before the pinned
``HISTORY_END`` (weekdays and times of day kept, the same whenever the test runs; missing 5-min rows
carry the CSV loader's repaired values), and backfilled with ``promtool``. Then:

* ``replay --since 7d --until T`` scores the same as ``backtest --trace`` on the CSV rows of that
  week (the warm-up, fits and decisions see the same demand);
* its ``--openmetrics`` file, and a second run with a changed quantile, go through ``promtool tsdb
  create-blocks-from openmetrics`` into a fresh Prometheus, whose series give back the scores.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from forecastscale.backtest.scores import SCORE_NAMES
from forecastscale.cli import app
from forecastscale.devtools.prometheus import LocalPrometheus, Series, tool, write_openmetrics
from forecastscale.sources.csvtrace import Trace, load_trace
from forecastscale.sources.prometheus import PrometheusSource
from tests.conftest import DATA
from tests.integration.conftest import HISTORY_END, running

CSV = DATA / "elb_request_count_8c0756.csv"
METRIC = "elb_requests"
WEEK_S = 7 * 86400
# The replayed week: days 3–10 of the trace (whole 5-min rows at both ends).
FIRST_DAY, LAST_DAY = 3, 10


@dataclass(frozen=True)
class ElbPrometheus:
    """A running server holding the ELB trace shifted by ``shift_s`` seconds."""

    url: str
    trace: Trace  # as loaded from the CSV, on its own (2014) clock
    shift_s: int


@pytest.fixture(scope="module")
def elb_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ElbPrometheus]:
    root = tmp_path_factory.mktemp("elb-prometheus")
    trace = load_trace(CSV)
    start_s = int(trace.start.timestamp())
    end_s = start_s + int(trace.duration_s)
    shift_s = (int(HISTORY_END.timestamp()) - end_s) // WEEK_S * WEEK_S
    write_openmetrics(root / "elb.om", METRIC, [Series({"service": "chat"}, start_s + shift_s, int(trace.step_s),
                                                        [float(v) for v in trace.values])],
                      "ELB requests per 5 min.")
    with running(LocalPrometheus(root, root / "elb.om")) as server:
        yield ElbPrometheus(server.url, trace, shift_s)


def _config(path: Path, quantile: float = 0.9) -> Path:
    raw = yaml.safe_load((DATA / "elb_request_count.yaml").read_text(encoding="utf-8"))
    target = raw["targets"][0]
    target["backtest"]["trace"] = str(CSV)
    target["queries"] = {"demand": f'{METRIC}{{service="chat"}}'}
    target["forecast"]["quantile"] = quantile
    target.pop("slo", None)  # the what-if here is the knob's (quantile), replayed as the service would run it
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _week_csv(trace: Trace, path: Path) -> Path:
    """The CSV's own rows from day FIRST_DAY to day LAST_DAY (end excluded), as written in the file."""
    lo, hi = (trace.start + timedelta(days=d) for d in (FIRST_DAY, LAST_DAY))
    lines = CSV.read_text(encoding="utf-8").splitlines()
    rows = [line for line in lines[1:] if lo <= datetime.fromisoformat(line.split(",")[0]).replace(tzinfo=UTC) < hi]
    assert rows[0].startswith(lo.strftime("%Y-%m-%d %H:%M")), "the week must start on a row of the CSV"
    path.write_text("\n".join([lines[0], *rows]) + "\n", encoding="utf-8")
    return path


def _invoke(*args: str) -> None:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output


def _policies(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    [trace] = json.loads(path.read_text(encoding="utf-8"))["traces"]
    return trace, trace["policies"]


@pytest.fixture(scope="module")
def replayed(elb_prometheus: ElbPrometheus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Replay the week twice from Prometheus (quantile 0.9 as run "baseline", 0.99 as "q099"),
    and backtest the same week's CSV rows; all outputs in the returned folder."""
    out = tmp_path_factory.mktemp("replay")
    p = elb_prometheus
    until = (p.trace.start + timedelta(days=LAST_DAY, seconds=p.shift_s)).isoformat()
    for run, quantile in (("baseline", 0.9), ("q099", 0.99)):
        _invoke("replay", "--config", str(_config(out / f"{run}.yaml", quantile)), "--prometheus", p.url,
                "--since", f"{LAST_DAY - FIRST_DAY}d", "--until", until, "--json", str(out / f"{run}.json"),
                "--openmetrics", str(out / f"{run}.om"), "--run", run, "--quiet")
    _invoke("backtest", "--config", str(out / "baseline.yaml"), "--trace", str(_week_csv(p.trace, out / "week.csv")),
            "--json", str(out / "backtest.json"), "--quiet")
    return out


def test_replay_scores_equal_the_backtest_of_the_same_csv_span(replayed: Path,
                                                                elb_prometheus: ElbPrometheus) -> None:
    replay, from_prometheus = _policies(replayed / "baseline.json")
    backtest, from_csv = _policies(replayed / "backtest.json")
    assert list(from_prometheus) == list(from_csv) == ["reactive", "predictive", "oracle"]
    assert (replay["scored_steps"], replay["warmup_steps"]) == (backtest["scored_steps"], backtest["warmup_steps"])
    assert replay["scored_steps"] == round(0.8 * 7 * 1440)  # default warm-up: 20 % of the week
    for policy, scores in from_csv.items():
        for name in (*SCORE_NAMES, "gpu_hours_vs_oracle"):
            assert from_prometheus[policy][name] == pytest.approx(scores[name], rel=1e-6, abs=1e-9), (policy, name)
    # It is a real comparison: the policies differ, and the history came from Prometheus.
    assert from_csv["reactive"]["underprovisioned_pct"] > 3 * from_csv["predictive"]["underprovisioned_pct"] > 0
    assert replay["replay"]["query"] == f'{METRIC}{{service="chat"}}'
    assert replay["replay"]["prometheus"] == elb_prometheus.url
    assert replay["trace_report"]["filled_slots"] == 0  # every step answered


def test_a_changed_quantile_shows_in_the_replay(replayed: Path) -> None:
    _, baseline = _policies(replayed / "baseline.json")
    _, q099 = _policies(replayed / "q099.json")
    assert q099["reactive"] == baseline["reactive"]  # the quantile only moves the predictive policy
    assert q099["predictive"]["gpu_hours"] > baseline["predictive"]["gpu_hours"]
    assert q099["predictive"]["underprovisioned_pct"] < baseline["predictive"]["underprovisioned_pct"]


@pytest.fixture(scope="module")
def whatif_prometheus(replayed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Both runs' OpenMetrics loaded as in the README: promtool into the data dir, then Prometheus."""
    root = tmp_path_factory.mktemp("whatif-prometheus")
    for run in ("baseline", "q099"):
        done = subprocess.run([tool("promtool"), "tsdb", "create-blocks-from", "openmetrics",
                               str(replayed / f"{run}.om"), str(root / "data")],
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
    server = LocalPrometheus(root, root / "unused.om")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def _instant(url: str, query: str, at: float) -> dict[frozenset[tuple[str, str]], float]:
    answer = PrometheusSource(url).instant_series(query, datetime.fromtimestamp(at, tz=UTC))
    return {frozenset(labels.items()): value for labels, value in answer}


def test_openmetrics_round_trips_through_promtool_and_prometheus(
        replayed: Path, whatif_prometheus: str, elb_prometheus: ElbPrometheus) -> None:
    url, p = whatif_prometheus, elb_prometheus
    baseline, scores = _policies(replayed / "baseline.json")
    step = baseline["decision_interval_s"]
    end = datetime.fromisoformat(baseline["replay"]["end"]).timestamp()
    last = end - step
    first = end - baseline["scored_steps"] * step  # the first scored step: the file starts there
    # Demand is the CSV's value × demand_scale at the same moment (5-min rows hold for 5 minutes).
    row = math.floor((first - p.shift_s - p.trace.start.timestamp()) / p.trace.step_s)
    demand = _instant(url, 'forecastscale_replay_demand{run="baseline"}', first)
    assert demand == {frozenset({("__name__", "forecastscale_replay_demand"), ("run", "baseline"),
                                 ("target", "chat-llm")}): pytest.approx(0.1 * p.trace.values[row])}
    assert not _instant(url, 'forecastscale_replay_demand{run="baseline"}', first - step)  # warm-up not written
    # Forecasts at the policy's quantile and the median; per-policy series for both runs.
    forecast = _instant(url, "forecastscale_replay_forecast", last)
    assert {(dict(k)["run"], dict(k)["quantile"]) for k in forecast} == {
        ("baseline", "0.5"), ("baseline", "0.9"), ("q099", "0.5"), ("q099", "0.99")}
    for k, v in forecast.items():
        assert v > 0, dict(k)
    for metric in ("desired_replicas", "ready_capacity", "underprovisioned"):
        found = _instant(url, f"forecastscale_replay_{metric}", last)
        policies = ("reactive", "predictive", "oracle")
        assert {(dict(k)["run"], dict(k)["policy"], dict(k)["target"]) for k in found} == {
            (run, policy, "chat-llm") for run in ("baseline", "q099") for policy in policies}
    # The under-provisioned flags add up to the scores, for every run and policy.
    span = f"{int(last - first + step // 2)}s"
    for run in ("baseline", "q099"):
        _, run_scores = _policies(replayed / f"{run}.json")
        steps = _instant(url, f'sum_over_time(forecastscale_replay_underprovisioned{{run="{run}"}}[{span}])', last)
        counted = _instant(url, f'count_over_time(forecastscale_replay_underprovisioned{{run="{run}"}}[{span}])', last)
        for labels, value in steps.items():
            policy = dict(labels)["policy"]
            assert counted[labels] == baseline["scored_steps"]
            assert value == pytest.approx(run_scores[policy]["underprovisioned_pct"] / 100 * baseline["scored_steps"])
    assert scores["reactive"]["underprovisioned_pct"] > 0


def test_a_replay_shorter_than_two_seasons_says_predictive_ran_as_reactive(
        elb_prometheus: ElbPrometheus, tmp_path: Path) -> None:
    """Issue 16: a silent fallback is said in the table and on stderr, not only in the JSON."""
    p = elb_prometheus
    until = (p.trace.start + timedelta(days=LAST_DAY, seconds=p.shift_s)).isoformat()
    result = CliRunner().invoke(app, ["replay", "--config", str(_config(tmp_path / "c.yaml")), "--prometheus", p.url,
                                      "--since", "1d", "--until", until, "--quiet"])
    assert result.exit_code == 0, result.output
    assert "ran as reactive" in result.stdout  # the verdict under the table
    assert "warning:" in result.stderr and "scaled as reactive" in result.stderr and "24 h" in result.stderr
